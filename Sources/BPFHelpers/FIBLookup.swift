import BPFISA
import BPFMaps
import BPFRuntime

/// A routing table for `bpf_fib_lookup`, supplied by the embedder: the
/// interfaces (MAC, MTU, whether they forward), the routes and the
/// neighbour entries a lookup consults. The helper answers from it as the
/// kernel answers from its FIB and neighbour tables.
public struct FIBTable: Sendable, Hashable {
    public struct Interface: Sendable, Hashable {
        public var ifindex: UInt32
        /// The interface's MAC address (6 bytes): the `smac` of lookups leaving by it.
        public var mac: [UInt8]
        public var mtu: Int
        /// Whether the interface forwards IPv4 and IPv6 (`net.ipv4.conf.X.forwarding`,
        /// `net.ipv6.conf.X.forwarding`); a lookup whose `ifindex` names one that
        /// does not gives `BPF_FIB_LKUP_RET_FWD_DISABLED`.
        public var forwardsIPv4: Bool
        public var forwardsIPv6: Bool

        public init(ifindex: UInt32, mac: [UInt8], mtu: Int = 1500, forwardsIPv4: Bool = true, forwardsIPv6: Bool = true) {
            self.ifindex = ifindex
            self.mac = mac
            self.mtu = mtu
            self.forwardsIPv4 = forwardsIPv4
            self.forwardsIPv6 = forwardsIPv6
        }
    }

    /// What a route does with matching packets (`RTN_*`).
    public enum RouteType: String, Sendable, Hashable, CaseIterable {
        case unicast, blackhole, unreachable, prohibit, local
    }

    public struct Route: Sendable, Hashable {
        /// The destination prefix: 4 or 16 address bytes in network order.
        public var destination: [UInt8]
        public var prefixLength: Int
        /// The interface packets leave by.
        public var ifindex: UInt32
        /// The next hop, when not directly connected (same family as the destination).
        public var gateway: [UInt8]?
        public var type: RouteType
        /// The route's metric (priority); lower wins between equal prefixes.
        public var metric: UInt32
        /// The route's MTU; nil: the interface's.
        public var mtu: Int?
        /// The routing table (254 main, 255 local, 253 default), for `BPF_FIB_LOOKUP_TBID`.
        public var table: UInt32
        /// The preferred source address (`BPF_FIB_LOOKUP_SRC`).
        public var source: [UInt8]?

        public init(destination: [UInt8], prefixLength: Int, ifindex: UInt32, gateway: [UInt8]? = nil, type: RouteType = .unicast,
                    metric: UInt32 = 0, mtu: Int? = nil, table: UInt32 = FIBTable.mainTable, source: [UInt8]? = nil) {
            self.destination = destination
            self.prefixLength = prefixLength
            self.ifindex = ifindex
            self.gateway = gateway
            self.type = type
            self.metric = metric
            self.mtu = mtu
            self.table = table
            self.source = source
        }

        func matches(_ address: [UInt8]) -> Bool {
            guard address.count == destination.count else { return false }
            var bits = prefixLength
            for (a, d) in zip(address, destination) {
                if bits <= 0 { return true }
                let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
                if a & mask != d & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    /// A resolved neighbour: `address` on `ifindex` has the link-layer address `mac`.
    public struct Neighbour: Sendable, Hashable {
        public var ifindex: UInt32
        public var address: [UInt8]
        public var mac: [UInt8]

        public init(ifindex: UInt32, address: [UInt8], mac: [UInt8]) {
            self.ifindex = ifindex
            self.address = address
            self.mac = mac
        }
    }

    public static let mainTable: UInt32 = 254
    public static let localTable: UInt32 = 255
    public static let defaultTable: UInt32 = 253

    public var interfaces: [Interface]
    public var routes: [Route]
    public var neighbours: [Neighbour]

    public init(interfaces: [Interface] = [], routes: [Route] = [], neighbours: [Neighbour] = []) {
        self.interfaces = interfaces
        self.routes = routes
        self.neighbours = neighbours
    }

    /// Checks that addresses, prefixes and MACs have their sizes and that
    /// routes name interfaces of the table; the error names the entry.
    public func validate() throws(FIBTableError) {
        for (i, interface) in interfaces.enumerated() where interface.mac.count != 6 {
            throw FIBTableError("interface \(i) (ifindex \(interface.ifindex)): mac must be 6 bytes")
        }
        for (i, route) in routes.enumerated() {
            guard route.destination.count == 4 || route.destination.count == 16 else {
                throw FIBTableError("route \(i): destination must be an IPv4 or IPv6 address")
            }
            guard (0...route.destination.count * 8).contains(route.prefixLength) else {
                throw FIBTableError("route \(i): prefix length \(route.prefixLength) out of range")
            }
            if let gateway = route.gateway, gateway.count != route.destination.count {
                throw FIBTableError("route \(i): gateway family differs from the destination's")
            }
            guard interfaces.contains(where: { $0.ifindex == route.ifindex }) || route.type != .unicast else {
                throw FIBTableError("route \(i): ifindex \(route.ifindex) is not an interface of the table")
            }
        }
        for (i, neighbour) in neighbours.enumerated() where neighbour.mac.count != 6 || ![4, 16].contains(neighbour.address.count) {
            throw FIBTableError("neighbour \(i): address must be IPv4 or IPv6 and mac 6 bytes")
        }
    }
}

public struct FIBTableError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `struct bpf_fib_lookup` (64 bytes) and the helper's answers.
public enum FIBLookup {
    public static let size = 64
    // Return codes (`BPF_FIB_LKUP_RET_*`).
    public static let success: Int64 = 0, blackhole: Int64 = 1, unreachable: Int64 = 2, prohibit: Int64 = 3, notForwarded: Int64 = 4
    public static let forwardingDisabled: Int64 = 5, unsupportedLWT: Int64 = 6, noNeighbour: Int64 = 7, fragmentationNeeded: Int64 = 8
    public static let noSourceAddress: Int64 = 9
    // Flags (`BPF_FIB_LOOKUP_*`).
    public static let direct: UInt32 = 1, output: UInt32 = 2, skipNeighbour: UInt32 = 4, tableID: UInt32 = 8, source: UInt32 = 16
    static let knownFlags: UInt32 = 0x1f
    static let afInet: UInt8 = 2, afInet6: UInt8 = 10
    static let ENODEV: Int64 = 19, EAFNOSUPPORT: Int64 = 97

    // Field offsets.
    static let family = 0, totalLength = 6, ifindex = 8, metric = 12, ipv4Source = 16, ipv4Destination = 32
    static let vlanProto = 48, vlanTCI = 50, tbid = 48, sourceMAC = 52, destinationMAC = 58

    /// The lookup on `params` (the struct's 64 bytes, updated in place as
    /// the kernel writes them back), with `flags`; `packetLength` is the
    /// socket buffer's length for tc (nil for XDP, which always checks the
    /// MTU against `tot_len`). `table` nil: no routes at all. `byteOrder`:
    /// the order of the struct's host-order integers (the engine's memory).
    public static func lookup(_ params: inout [UInt8], flags: UInt32, table: FIBTable?, packetLength: Int?,
                              byteOrder: ByteOrder = .host) -> Int64 {
        var fields = Fields(order: byteOrder)
        return fields.lookup(&params, flags: flags, table: table, packetLength: packetLength)
    }

    /// The struct's integers are in the memory's order except addresses,
    /// ports and VLAN fields (network order, copied as bytes).
    struct Fields {
        let order: ByteOrder
        func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
            let bytes = order == .little ? Array(b[at..<at + 4].reversed()) : Array(b[at..<at + 4])
            return bytes.reduce(0) { $0 << 8 | UInt32($1) }
        }
        func u16(_ b: [UInt8], _ at: Int) -> UInt16 {
            order == .little ? UInt16(b[at]) | UInt16(b[at + 1]) << 8 : UInt16(b[at]) << 8 | UInt16(b[at + 1])
        }
        func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
            let big: [UInt8] = [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
            b.replaceSubrange(at..<at + 4, with: order == .little ? big.reversed() : big)
        }
        func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
            let big: [UInt8] = [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)]
            b.replaceSubrange(at..<at + 2, with: order == .little ? big.reversed() : big)
        }

    mutating func lookup(_ params: inout [UInt8], flags: UInt32, table: FIBTable?, packetLength: Int?) -> Int64 {
        typealias F = FIBLookup
        let (afInet, afInet6, direct, tableID, output, source, skipNeighbour) = (F.afInet, F.afInet6, F.direct, F.tableID, F.output, F.source, F.skipNeighbour)
        let (notForwarded, forwardingDisabled, blackhole, unreachable, prohibit, fragmentationNeeded, noSourceAddress, noNeighbour, success) =
            (F.notForwarded, F.forwardingDisabled, F.blackhole, F.unreachable, F.prohibit, F.fragmentationNeeded, F.noSourceAddress, F.noNeighbour, F.success)
        let (ipv4Destination, ipv4Source, tbid, metric, destinationMAC, sourceMAC, vlanTCI, vlanProto) =
            (F.ipv4Destination, F.ipv4Source, F.tbid, F.metric, F.destinationMAC, F.sourceMAC, F.vlanTCI, F.vlanProto)
        let (ENODEV, EAFNOSUPPORT, knownFlags) = (F.ENODEV, F.EAFNOSUPPORT, F.knownFlags)
        guard flags & ~knownFlags == 0 else { return -Int64(Errno.EINVAL) }
        let family = params[F.family]
        guard family == afInet || family == afInet6 else { return -EAFNOSUPPORT }
        let ipv6 = family == afInet6
        let length = ipv6 ? 16 : 4
        let destinationOffset = ipv6 ? 32 : ipv4Destination, sourceOffset = ipv6 ? 16 : ipv4Source
        let destination = Array(params[destinationOffset..<destinationOffset + length])
        let sourceAddress = Array(params[sourceOffset..<sourceOffset + length])
        // Link-local, loopback and multicast IPv6 addresses are never forwarded (`rt6_need_strict`).
        if ipv6 && (F.needsStrict(destination) || F.needsStrict(sourceAddress)) { return notForwarded }
        guard let table else { return notForwarded }
        let ifindex = u32(params, F.ifindex)
        guard let device = table.interfaces.first(where: { $0.ifindex == ifindex }) else { return -ENODEV }
        guard ipv6 ? device.forwardsIPv6 : device.forwardsIPv4 else { return forwardingDisabled }
        let totalLength = Int(u16(params, F.totalLength))
        let checkMTU = packetLength == nil || totalLength != 0

        var tables = [FIBTable.localTable, FIBTable.mainTable, FIBTable.defaultTable]
        if flags & direct != 0 {
            var id = FIBTable.mainTable
            if flags & tableID != 0 {
                id = u32(params, tbid)
                put32(&params, tbid, 0)
            }
            tables = [id]
        }
        var chosen: FIBTable.Route?
        for id in tables {
            let candidates = table.routes.filter {
                $0.table == id && $0.matches(destination) && (flags & output == 0 || $0.type != .unicast || $0.ifindex == ifindex)
            }
            if let best = candidates.max(by: { ($0.prefixLength, -Int64($0.metric)) < ($1.prefixLength, -Int64($1.metric)) }) {
                chosen = best
                break
            }
        }
        guard let route = chosen else { return notForwarded }
        switch route.type {
        case .unicast: break
        case .blackhole: return blackhole
        case .unreachable: return unreachable
        case .prohibit: return prohibit
        case .local: return notForwarded
        }
        guard let out = table.interfaces.first(where: { $0.ifindex == route.ifindex }) else { return notForwarded }
        var mtu = 0
        if checkMTU {
            mtu = route.mtu ?? out.mtu
            if totalLength > mtu {
                put16(&params, F.totalLength, UInt16(truncatingIfNeeded: mtu))
                return fragmentationNeeded
            }
        }
        put32(&params, metric, route.metric)
        put32(&params, F.ifindex, out.ifindex)
        if flags & source != 0, sourceAddress.allSatisfy({ $0 == 0 }) {
            guard let preferred = route.source, preferred.count == length else { return noSourceAddress }
            params.replaceSubrange(sourceOffset..<sourceOffset + length, with: preferred)
        }
        let nextHop = route.gateway ?? destination
        if route.gateway != nil { params.replaceSubrange(destinationOffset..<destinationOffset + length, with: nextHop) }
        if flags & skipNeighbour == 0 {
            guard let neighbour = table.neighbours.first(where: { $0.ifindex == out.ifindex && $0.address == nextHop }) else {
                return noNeighbour
            }
            params.replaceSubrange(destinationMAC..<destinationMAC + 6, with: neighbour.mac)
            params.replaceSubrange(sourceMAC..<sourceMAC + 6, with: out.mac)
        }
        put16(&params, vlanTCI, 0)
        put16(&params, vlanProto, 0)
        if mtu != 0 { put16(&params, F.totalLength, UInt16(truncatingIfNeeded: mtu)) }
        if let packetLength, !checkMTU {
            // tc without tot_len: the packet itself against the device (`is_skb_forwardable`:
            // MTU plus the Ethernet header and one VLAN tag).
            put16(&params, F.totalLength, UInt16(truncatingIfNeeded: out.mtu))
            if packetLength > out.mtu + 14 + 4 { return fragmentationNeeded }
        }
        return success
    }
    }

    static func needsStrict(_ address: [UInt8]) -> Bool {
        if address[0] == 0xff { return true }                                   // multicast
        if address[0] == 0xfe && address[1] & 0xc0 == 0x80 { return true }       // link-local
        return address.prefix(15).allSatisfy { $0 == 0 } && address[15] == 1     // loopback
    }

}

extension KernelHelpers {
    /// `bpf_fib_lookup` for XDP (`xdp_md`) and tc (`__sk_buff`) contexts.
    static func fibHelpers(_ env: HelperEnvironment) -> [Helper] {
        [
            helper(.fibLookup) { call throws(HelperError) in
                let address = call.argument(1)
                var packetLength: Int?
                var order = ByteOrder.host
                if let frame = XDPFrames.frame(at: address) {
                    packetLength = nil
                    order = frame.byteOrder
                } else if let skb = SKBuffs.buffer(at: address) {
                    packetLength = skb.length
                } else {
                    throw HelperError("bpf_fib_lookup: argument 1 (0x\(String(address, radix: 16))) is not this run's XDP or __sk_buff context")
                }
                guard call.memory.regions.regions.contains(where: { $0.kind == .context && $0.start == address }) else {
                    throw HelperError("bpf_fib_lookup: argument 1 (0x\(String(address, radix: 16))) is not this run's context")
                }
                let size = Int(Int32(truncatingIfNeeded: call.argument(3)))
                guard size >= FIBLookup.size else {
                    // Checked before anything is read (the kernel's plen < sizeof(*params)).
                    if size > 0 { _ = try call.memory.read(at: call.argument(2), count: size) }
                    return Errno.result(Errno.EINVAL)
                }
                var params = try call.memory.read(at: call.argument(2), count: FIBLookup.size)
                let before = params
                let result = FIBLookup.lookup(&params, flags: UInt32(truncatingIfNeeded: call.argument(4)), table: env.fib,
                                              packetLength: packetLength, byteOrder: order)
                if params != before { try call.memory.write(params, at: call.argument(2)) }
                return UInt64(bitPattern: result)
            },
        ]
    }
}
