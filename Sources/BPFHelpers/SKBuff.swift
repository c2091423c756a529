import BPFMaps
import BPFRuntime

/// One socket buffer for a `tc` run, as the kernel's `BPF_PROG_TEST_RUN`
/// builds it for `sched_cls` programs: the packet from its Ethernet header,
/// linear, with `protocol` and `pkt_type` set by `eth_type_trans` on the
/// loopback device (ifindex 1, address 00:00:00:00:00:00), the MAC header at
/// the start and the network header right after it, no transport header, no
/// VLAN tag, no hash.
///
/// The packet lives in one buffer with room on both sides. Helpers that grow
/// it move it inside the buffer when one side runs out (the kernel
/// reallocates the head), so its ends move and every packet pointer the
/// program held is stale afterwards; the engines check each packet access
/// against the live `data`/`data_end` words of the context, and the verifier
/// forgets packet pointers after these helpers, as the kernel's
/// `bpf_helper_changes_pkt_data` makes it.
///
/// Programs see `SKBContext`: the kernel's `struct __sk_buff` layout for every
/// scalar field (writable for the program where the kernel allows writes),
/// then the packet pointers as real 64-bit words, read-only.
public final class SKBuff: @unchecked Sendable {
    /// Room before the packet; the buffer is twice this.
    public static let headroom = 16384
    public static let bufferSize = 2 * headroom
    /// The longest packet the helpers make (`BPF_SKB_MAX_LEN`, `SKB_MAX_ALLOC`).
    public static let maxLength = 16384 - 320
    /// The longest input a test run takes (a page less `NET_SKB_PAD` and the shared info).
    public static let maxInput = 4096 - 64 - 320
    public static let ethernetHeaderSize = 14

    let buffer: GuestMemory
    let context: GuestMemory

    // Host-side state; `syncContext()` mirrors it into the context. Offsets are into `buffer`.
    private(set) var data: Int
    private(set) var length: Int
    private var macHeader: Int
    private var networkHeader: Int
    private var transportHeader: Int?
    /// `skb->protocol`: the Ethernet type as the packet holds it (network order).
    private(set) var protocolValue: UInt16
    private var vlanProtocol: UInt16 = 0
    private var vlanTCI: UInt16 = 0
    private var hash: UInt32 = 0
    private var encapsulation = false

    init(packet: [UInt8], settings: SKBSettings) {
        buffer = GuestMemory(count: Self.bufferSize)
        context = GuestMemory(count: SKBContext.size)
        data = Self.headroom
        length = packet.count
        buffer.write(packet, at: data)
        macHeader = data
        networkHeader = data + Self.ethernetHeaderSize
        protocolValue = Self.ethernetProtocol(packet)
        context.store(Self.packetType(packet), at: SKBContext.packetType)
        context.store(settings.mark, at: SKBContext.mark)
        context.store(settings.priority, at: SKBContext.priority)
        context.store(settings.ingressInterface, at: SKBContext.ingressInterface)
        context.store(settings.interface, at: SKBContext.interface)
        for (i, word) in settings.controlBlock.prefix(5).enumerated() { context.store(word, at: SKBContext.controlBlock + 4 * i) }
        context.store(settings.timestamp, at: SKBContext.timestamp)
        context.store(settings.wireLength.map { $0 == 0 ? UInt32(packet.count) : $0 } ?? 0, at: SKBContext.wireLength)
        context.store(settings.gsoSegments, at: SKBContext.gsoSegments)
        context.store(settings.gsoSize, at: SKBContext.gsoSize)
        context.store(settings.hardwareTimestamp, at: SKBContext.hardwareTimestamp)
        syncContext()
        SKBuffs.register(self)
    }

    /// The run's forwarding decision (`bpf_redirect`), as for XDP.
    let redirect = RedirectRecord()

    deinit { SKBuffs.unregister(context.address) }

    /// `eth_type_trans`: the Ethernet type when it is one (at least 0x600),
    /// else 802.3 (raw IPX, payload starting ff ff) or 802.2.
    static func ethernetProtocol(_ packet: [UInt8]) -> UInt16 {
        let type = UInt16(packet[12]) << 8 | UInt16(packet[13])
        if type >= 0x600 { return type.bigEndian }
        if packet.count >= 16, packet[14] == 0xff, packet[15] == 0xff { return UInt16(0x0001).bigEndian }
        return UInt16(0x0004).bigEndian
    }

    /// `eth_type_trans` on loopback (address and broadcast address all zero):
    /// the zero address is the host's, other group addresses (ff:ff:... too)
    /// are multicast, the rest another host's.
    static func packetType(_ packet: [UInt8]) -> UInt32 {
        if packet[0..<6].allSatisfy({ $0 == 0 }) { return 0 }   // PACKET_HOST
        return packet[0] & 1 != 0 ? 2 : 3                        // PACKET_MULTICAST, PACKET_OTHERHOST
    }

    /// Writes the fields helpers change into the context the program reads.
    func syncContext() {
        context.store(UInt32(length), at: SKBContext.length)
        context.store(UInt32(protocolValue), at: SKBContext.protocolField)
        context.store(UInt32(vlanProtocol != 0 ? 1 : 0), at: SKBContext.vlanPresent)
        context.store(UInt32(vlanTCI), at: SKBContext.vlanTCI)
        context.store(UInt32(vlanProtocol), at: SKBContext.vlanProtocol)
        context.store(hash, at: SKBContext.hash)
        let start = buffer.address + UInt64(data)
        context.store(start, at: SKBContext.data)
        context.store(start + UInt64(length), at: SKBContext.dataEnd)
        context.store(start, at: SKBContext.dataMeta)
    }

    /// The packet now (`data_out`).
    public var packet: [UInt8] { buffer.read(at: data, count: length) }

    /// The `struct __sk_buff` a test run returns (`ctx_out`): the fields the
    /// kernel's `convert_skb_to___skb` copies back, the rest zero.
    public var contextOut: [UInt8] {
        let out = GuestMemory(count: SKBContext.kernelSize)
        for (offset, size) in SKBContext.returnedFields {
            out.write(context.read(at: offset, count: size), at: offset)
        }
        return out.read()
    }

    /// Whether `[address, address + size)` lies in the packet.
    func permits(_ address: UInt64, size: Int) -> Bool {
        let low = buffer.address + UInt64(data), high = low + UInt64(length)
        return address >= low && address <= high && UInt64(size) <= high - address
    }

    /// What `permits` admits, as a byte range (`MemoryRegions.extents`).
    var extent: Range<UInt64> {
        let low = buffer.address + UInt64(data)
        return low..<low + UInt64(length)
    }

    // MARK: Moving the packet

    /// Makes room for `front` more bytes before the packet and `back` after
    /// it, moving the packet (and its header offsets) inside the buffer when
    /// one side is short. False when the buffer cannot hold the result.
    private func makeRoom(front: Int, back: Int) -> Bool {
        guard front >= 0, back >= 0, front + length + back <= Self.bufferSize else { return false }
        if data >= front, data + length + back <= Self.bufferSize { return true }
        let newData = max(front, (Self.bufferSize - front - length - back) / 2 + front)
        let bytes = packet
        let delta = newData - data
        buffer.write(bytes, at: newData)
        data = newData
        macHeader += delta
        networkHeader += delta
        if let t = transportHeader { transportHeader = t + delta }
        return true
    }

    /// `skb_push` of `count` bytes, then the first `keep` bytes moved to the
    /// new start and `count` zero bytes after them (`bpf_skb_generic_push`).
    private func insert(_ count: Int, at keep: Int) -> Bool {
        guard makeRoom(front: count, back: 0) else { return false }
        let head = buffer.read(at: data, count: keep)
        data -= count
        length += count
        buffer.write(head, at: data)
        buffer.write(Array(repeating: 0, count: count), at: data + keep)
        return true
    }

    /// Removes `count` bytes after the first `keep` (`bpf_skb_generic_pop`).
    private func remove(_ count: Int, at keep: Int) {
        let head = buffer.read(at: data, count: keep)
        buffer.write(head, at: data + count)
        data += count
        length -= count
    }

    // MARK: Helpers

    /// `bpf_skb_load_bytes`: nil (-EFAULT) outside the packet.
    func load(offset: UInt32, count: Int) -> [UInt8]? {
        guard offset <= UInt32(Int32.max), Int(offset) + count <= length else { return nil }
        return buffer.read(at: data + Int(offset), count: count)
    }

    /// `bpf_skb_load_bytes_relative`: from the MAC (0) or network (1) header.
    func loadRelative(offset: UInt32, count: Int, header: UInt32) -> Int64 {
        let base: Int
        switch header {
        case 0: base = macHeader
        case 1: base = networkHeader
        default: return -Int64(SKBErrno.EFAULT)
        }
        guard offset <= 0xffff else { return -Int64(SKBErrno.EFAULT) }
        let start = base + Int(offset)
        guard start >= macHeader, start + count <= data + length else { return -Int64(SKBErrno.EFAULT) }
        return Int64(start)
    }

    func read(at offset: Int, count: Int) -> [UInt8] { buffer.read(at: offset, count: count) }

    /// `bpf_skb_store_bytes`.
    func store(_ bytes: [UInt8], offset: UInt32, flags: UInt64) -> Int64 {
        guard flags & ~0x3 == 0 else { return -Int64(Errno.EINVAL) }
        guard offset <= UInt32(Int32.max) else { return -Int64(SKBErrno.EFAULT) }
        guard Int(offset) + bytes.count <= length else { return -Int64(SKBErrno.EFAULT) }
        buffer.write(bytes, at: data + Int(offset))
        if flags & 0x2 != 0 { hash = 0 }   // BPF_F_INVALIDATE_HASH
        syncContext()
        return 0
    }

    /// `bpf_l3_csum_replace` and `bpf_l4_csum_replace` (`layer4`). The test
    /// run's buffer has no checksum offload (`CHECKSUM_NONE`), so the
    /// pseudo-header flag changes nothing in the packet.
    func replaceChecksum(offset: UInt32, from: UInt64, to: UInt64, flags: UInt64, layer4: Bool) -> Int64 {
        let allowed: UInt64 = layer4 ? 0xf | 0x10 | 0x20 | 0x40 | 0x80 : 0xf
        guard flags & ~allowed == 0 else { return -Int64(Errno.EINVAL) }
        guard offset <= 0xffff, offset & 1 == 0 else { return -Int64(SKBErrno.EFAULT) }
        guard Int(offset) + 2 <= length else { return -Int64(SKBErrno.EFAULT) }
        let at = data + Int(offset)
        let old = buffer.load(UInt16.self, at: at)
        let mangledZero = layer4 && flags & 0x20 != 0
        if mangledZero, flags & 0x40 == 0, old == 0 { return 0 }
        var sum: UInt16
        switch flags & 0xf {
        case 0:
            guard from == 0 else { return -Int64(Errno.EINVAL) }
            sum = KernelChecksum.replaceByDifference(old, UInt32(truncatingIfNeeded: to))
        case 2:
            sum = layer4 ? KernelChecksum.replace4(old, UInt32(UInt16(truncatingIfNeeded: from)), UInt32(UInt16(truncatingIfNeeded: to)))
                : KernelChecksum.replace2(old, UInt16(truncatingIfNeeded: from), UInt16(truncatingIfNeeded: to))
        case 4:
            sum = KernelChecksum.replace4(old, UInt32(truncatingIfNeeded: from), UInt32(truncatingIfNeeded: to))
        default:
            return -Int64(Errno.EINVAL)
        }
        if mangledZero, sum == 0 { sum = 0xffff }   // CSUM_MANGLED_0
        buffer.store(sum, at: at)
        return 0
    }

    static let ipv4 = UInt16(0x0800).bigEndian, ipv6 = UInt16(0x86dd).bigEndian
    static let vlan8021Q = UInt16(0x8100).bigEndian, vlan8021AD = UInt16(0x88a8).bigEndian
    static let notSupported: Int64 = -524   // ENOTSUPP (kernel-internal)

    private var macHeaderLength: Int { networkHeader - macHeader }

    /// `bpf_skb_change_proto`: IPv4 to IPv6 inserts 20 zero bytes after the
    /// MAC header, IPv6 to IPv4 removes 20; the program writes the headers.
    func changeProtocol(_ proto: UInt16, flags: UInt64) -> Int64 {
        defer { syncContext() }
        guard flags == 0 else { return -Int64(Errno.EINVAL) }
        let offset = macHeaderLength
        if protocolValue == Self.ipv4 && proto == Self.ipv6 {
            guard insert(20, at: offset) else { return -Int64(Errno.ENOMEM) }
            macHeader -= 20
            let same = transportHeader == networkHeader
            networkHeader -= 20
            if same { transportHeader = networkHeader }
            protocolValue = Self.ipv6
            hash = 0
            return 0
        }
        if protocolValue == Self.ipv6 && proto == Self.ipv4 {
            guard offset + 20 <= length else { return -Int64(Errno.ENOMEM) }
            remove(20, at: offset)
            macHeader += 20
            let same = transportHeader == networkHeader
            networkHeader += 20
            if same { transportHeader = networkHeader }
            protocolValue = Self.ipv4
            hash = 0
            return 0
        }
        return Self.notSupported
    }

    /// `bpf_skb_vlan_push`: an existing offloaded tag goes into the packet,
    /// the new one becomes the offloaded tag (`skb_vlan_push`).
    func vlanPush(_ proto: UInt16, tci: UInt16) -> Int64 {
        defer { syncContext() }
        let proto = proto == Self.vlan8021Q || proto == Self.vlan8021AD ? proto : Self.vlan8021Q
        if vlanProtocol != 0 {
            guard data == macHeader else { return -Int64(Errno.EINVAL) }
            guard insertTag(vlanProtocol, tci: vlanTCI) else { return -Int64(Errno.ENOMEM) }
            protocolValue = vlanProtocol
            networkHeader -= 4
        }
        vlanProtocol = proto
        vlanTCI = tci
        return 0
    }

    /// `__vlan_insert_tag`: four bytes after the MAC addresses.
    private func insertTag(_ proto: UInt16, tci: UInt16) -> Bool {
        guard makeRoom(front: 4, back: 0) else { return false }
        let addresses = buffer.read(at: data, count: 12)
        data -= 4
        length += 4
        buffer.write(addresses, at: data)
        macHeader -= 4
        buffer.store(proto, at: data + 12)
        buffer.store(tci.bigEndian, at: data + 14)
        return true
    }

    /// `bpf_skb_vlan_pop` (`skb_vlan_pop`).
    func vlanPop() -> Int64 {
        defer { syncContext() }
        if vlanProtocol != 0 {
            vlanProtocol = 0
            vlanTCI = 0
        } else {
            guard protocolValue == Self.vlan8021Q || protocolValue == Self.vlan8021AD else { return 0 }
            let error = removeTag()
            if error.result != 0 { return error.result }
        }
        guard protocolValue == Self.vlan8021Q || protocolValue == Self.vlan8021AD else { return 0 }
        let proto = protocolValue
        let popped = removeTag()
        if popped.result != 0 { return popped.result }
        vlanProtocol = proto
        vlanTCI = popped.tci
        return 0
    }

    /// `__skb_vlan_pop`: removes the tag after the MAC addresses.
    private func removeTag() -> (result: Int64, tci: UInt16) {
        guard data == macHeader else { return (-Int64(Errno.EINVAL), 0) }
        guard length >= 18 else { return (-Int64(Errno.ENOMEM), 0) }
        let tci = UInt16(bigEndian: buffer.load(UInt16.self, at: data + 14))
        let encapsulated = buffer.load(UInt16.self, at: data + 16)
        if UInt16(bigEndian: encapsulated) >= 0x600 {
            protocolValue = encapsulated
        } else if length >= 20, buffer.load(UInt16.self, at: data + 18) == 0xffff {
            protocolValue = UInt16(0x0001).bigEndian
        } else {
            protocolValue = UInt16(0x0004).bigEndian
        }
        let addresses = buffer.read(at: data, count: 12)
        buffer.write(addresses, at: data + 4)
        data += 4
        length -= 4
        macHeader += 4
        if networkHeader - data < Self.ethernetHeaderSize { networkHeader = data + Self.ethernetHeaderSize }
        return (0, tci)
    }

    /// `bpf_skb_change_tail`: trims, or grows with zero bytes; the packet
    /// keeps at least its MAC header (the network header's offset).
    func changeTail(_ newLength: UInt32, flags: UInt64) -> Int64 {
        defer { syncContext() }
        let minimum = (transportHeader ?? networkHeader) - data
        guard flags == 0, newLength <= UInt32(Self.maxLength), Int(newLength) >= minimum else { return -Int64(Errno.EINVAL) }
        if encapsulation { return Self.notSupported }
        let newLength = Int(newLength)
        if newLength > length {
            guard makeRoom(front: 0, back: newLength - length) else { return -Int64(Errno.ENOMEM) }
            buffer.write(Array(repeating: 0, count: newLength - length), at: data + length)
        }
        length = newLength
        return 0
    }

    /// `bpf_skb_change_head`: `count` zero bytes before the packet, which
    /// become its MAC header.
    func changeHead(_ count: UInt32, flags: UInt64) -> Int64 {
        defer { syncContext() }
        let newLength = UInt64(length) + UInt64(count)
        guard flags == 0, newLength <= UInt64(Self.maxLength) else { return -Int64(Errno.EINVAL) }
        guard makeRoom(front: Int(count), back: 0) else { return -Int64(Errno.ENOMEM) }
        data -= Int(count)
        length += Int(count)
        buffer.write(Array(repeating: 0, count: Int(count)), at: data)
        macHeader = data
        return 0
    }

    /// `bpf_skb_pull_data`: the packet is linear, so only the length is checked.
    func pullData(_ count: UInt32) -> Int64 {
        defer { syncContext() }
        return Int(count) <= length ? 0 : -Int64(Errno.ENOMEM)
    }

    /// `bpf_skb_adjust_room`: inserts or removes room after the MAC header
    /// (`BPF_ADJ_ROOM_MAC`) or after the IPv4/IPv6 header (`BPF_ADJ_ROOM_NET`).
    func adjustRoom(_ difference: Int32, mode: UInt32, flags: UInt64) -> Int64 {
        defer { syncContext() }
        let fixedGSO: UInt64 = 1 << 0, encapIPv4: UInt64 = 1 << 1, encapIPv6: UInt64 = 1 << 2, encapGRE: UInt64 = 1 << 3
        let encapUDP: UInt64 = 1 << 4, noChecksumReset: UInt64 = 1 << 5, encapEthernet: UInt64 = 1 << 6
        let decapIPv4: UInt64 = 1 << 7, decapIPv6: UInt64 = 1 << 8
        let encapMask = encapIPv4 | encapIPv6, decapMask = decapIPv4 | decapIPv6
        let allowed = fixedGSO | encapMask | encapGRE | encapUDP | encapEthernet | (0xff << 56) | decapMask | noChecksumReset
        guard flags & ~allowed == 0 else { return -Int64(Errno.EINVAL) }
        let magnitude = Int(difference.magnitude)
        guard magnitude <= 0xfff else { return -Int64(SKBErrno.EFAULT) }
        guard protocolValue == Self.ipv4 || protocolValue == Self.ipv6 else { return Self.notSupported }
        var minimum = protocolValue == Self.ipv4 ? 20 : 40
        var offset = macHeaderLength
        switch mode {
        case 0: offset += minimum   // BPF_ADJ_ROOM_NET
        case 1: break               // BPF_ADJ_ROOM_MAC
        default: return Self.notSupported
        }
        let shrink = difference < 0
        if flags & decapMask != 0 {
            guard shrink else { return -Int64(Errno.EINVAL) }
            switch flags & decapMask {
            case decapIPv4: minimum = 20
            case decapIPv6: minimum = 40
            default: return -Int64(Errno.EINVAL)
            }
        }
        let current = length - (networkHeader - data)
        if shrink ? (magnitude >= current || current - magnitude < minimum) : length + magnitude > Self.maxLength {
            return Self.notSupported
        }
        var resized = false
        defer { if flags & noChecksumReset == 0 && resized { resetChecksumUnnecessary() } }
        if shrink {
            guard flags & ~(fixedGSO | decapMask | noChecksumReset) == 0 else { return -Int64(Errno.EINVAL) }
            guard offset + magnitude <= length else { return -Int64(Errno.ENOMEM) }
            remove(magnitude, at: offset)
            resized = true
            let same = transportHeader == networkHeader
            macHeader += magnitude
            networkHeader += magnitude
            if same { transportHeader = networkHeader }
            if protocolValue == Self.ipv4 && flags & decapIPv6 != 0 {
                protocolValue = Self.ipv6
            } else if protocolValue == Self.ipv6 && flags & decapIPv4 != 0 {
                protocolValue = Self.ipv4
            }
            return 0
        }
        let encapsulating = flags & encapMask != 0
        let innerMACLength = Int(flags >> 56)
        var macLength = 0, innerNetwork = 0
        if encapsulating {
            if flags & encapIPv4 != 0 && flags & encapIPv6 != 0 { return -Int64(Errno.EINVAL) }
            if flags & encapGRE != 0 && flags & encapUDP != 0 { return -Int64(Errno.EINVAL) }
            if flags & encapEthernet != 0 && innerMACLength != Self.ethernetHeaderSize { return -Int64(Errno.EINVAL) }
            if encapsulation { return -Int64(SKBErrno.EALREADY) }
            macLength = macHeaderLength
            innerNetwork = networkHeader
            if innerMACLength > magnitude { return -Int64(Errno.EINVAL) }
        }
        guard insert(magnitude, at: offset) else { return -Int64(Errno.ENOMEM) }
        resized = true
        let same = transportHeader == networkHeader
        macHeader -= magnitude
        networkHeader -= magnitude
        innerNetwork -= magnitude
        if same { transportHeader = networkHeader }
        if encapsulating {
            _ = innerNetwork
            encapsulation = true
            networkHeader = data + macLength
            if flags & (encapGRE | encapUDP) != 0 {
                transportHeader = networkHeader + (flags & encapIPv6 != 0 ? 40 : 20)
            }
            if protocolValue == Self.ipv4 && flags & encapIPv6 != 0 {
                protocolValue = Self.ipv6
            } else if protocolValue == Self.ipv6 && flags & encapIPv4 != 0 {
                protocolValue = Self.ipv4
            }
        }
        return 0
    }

    /// `bpf_get_hash_recalc`: the flow hash, computed once and kept until the
    /// packet changes in a way that clears it. The kernel keys its hash with
    /// a random per-boot seed, so the value differs from the kernel's; this
    /// one is a fixed function of the Ethernet type and the bytes of the
    /// network header on (FNV-1a, never 0).
    func hashRecalc() -> UInt32 {
        if hash == 0 {
            var h: UInt32 = 0x811c_9dc5
            let start = networkHeader - data
            let bytes = [UInt8(truncatingIfNeeded: protocolValue), UInt8(protocolValue >> 8)]
                + (start >= 0 && start < length ? buffer.read(at: networkHeader, count: min(length - start, 40)) : [])
            for byte in bytes { h = (h ^ UInt32(byte)) &* 0x0100_0193 }
            hash = h == 0 ? 1 : h
            syncContext()
        }
        return hash
    }

    /// The tunnel key `bpf_skb_set_tunnel_key` attached (`struct bpf_tunnel_key`, 44 bytes), if any.
    public private(set) var tunnelKey: [UInt8]?

    /// `bpf_skb_set_tunnel_key`: checks the key as the kernel does (the full
    /// 44-byte `struct bpf_tunnel_key` or one of its older, shorter layouts;
    /// no flow label without `BPF_F_TUNINFO_IPV6`, no `tunnel_ext`) and keeps
    /// it for the embedder; the packet does not change.
    func setTunnelKey(_ key: [UInt8], flags: UInt64) -> Int64 {
        guard flags & ~0x1f == 0 else { return -Int64(Errno.EINVAL) }
        guard [44, 28, 24, 22, 8].contains(key.count) else { return -Int64(Errno.EINVAL) }
        let full = key + Array(repeating: 0, count: 44 - key.count)
        let label = full[24..<28].contains { $0 != 0 }, ext = full[22] != 0 || full[23] != 0
        if (flags & 1 == 0 && label) || ext { return -Int64(Errno.EINVAL) }
        tunnelKey = full
        return 0
    }

    /// `bpf_skb_change_type`: host, broadcast, multicast or other host (0–3), from one of them.
    func changeType(_ type: UInt32) -> Int64 {
        guard context.load(UInt32.self, at: SKBContext.packetType) <= 3, type <= 3 else { return -Int64(Errno.EINVAL) }
        context.store(type, at: SKBContext.packetType)
        return 0
    }

    /// `ip_summed == CHECKSUM_UNNECESSARY` and its `csum_level` (a test
    /// run starts with `CHECKSUM_NONE`).
    private var checksumUnnecessary = false
    private var checksumLevelValue = 0

    /// `__skb_reset_checksum_unnecessary`.
    private func resetChecksumUnnecessary() {
        checksumUnnecessary = false
        checksumLevelValue = 0
    }

    /// `bpf_csum_level`: query (0), increment (1), decrement (2) or reset (3)
    /// the number of checksums known to be correct.
    func checksumLevel(_ operation: UInt64) -> Int64 {
        switch operation {
        case 0:
            return checksumUnnecessary ? Int64(checksumLevelValue) : -Int64(Errno.EACCES)
        case 1:
            if checksumUnnecessary {
                if checksumLevelValue < 3 { checksumLevelValue += 1 }
            } else {
                checksumUnnecessary = true
                checksumLevelValue = 0
            }
        case 2:
            if checksumUnnecessary {
                if checksumLevelValue == 0 { checksumUnnecessary = false } else { checksumLevelValue -= 1 }
            }
        case 3:
            resetChecksumUnnecessary()
        default:
            return -Int64(Errno.EINVAL)
        }
        return 0
    }

    /// `bpf_set_hash_invalid` / `bpf_set_hash`.
    func setHash(_ value: UInt32) {
        hash = value
        syncContext()
    }
}

/// What a test run's `ctx_in` may set (the kernel's `convert___skb_to_skb`);
/// every field zero, and `wireLength` nil, is a run without `ctx_in`.
public struct SKBSettings: Sendable, Hashable {
    public var mark: UInt32 = 0
    public var priority: UInt32 = 0
    public var ingressInterface: UInt32 = 0
    public var interface: UInt32 = 1
    public var controlBlock: [UInt32] = [0, 0, 0, 0, 0]
    public var timestamp: UInt64 = 0
    /// nil: no `ctx_in` (the kernel leaves the wire length 0); 0: the packet's length.
    public var wireLength: UInt32?
    public var gsoSegments: UInt32 = 0
    public var gsoSize: UInt32 = 0
    public var hardwareTimestamp: UInt64 = 0

    public init() {}

    /// The settings a `ctx_in` holding this `struct __sk_buff` gives, or why
    /// the kernel would refuse it (a field it does not let a test run set).
    public init(contextIn bytes: [UInt8]) throws(ProgramRunError) {
        guard bytes.count <= SKBContext.kernelSize else {
            throw .badContext("ctx_in is \(bytes.count) bytes; struct __sk_buff is \(SKBContext.kernelSize)")
        }
        let padded = bytes + Array(repeating: 0, count: SKBContext.kernelSize - bytes.count)
        let settable = SKBContext.returnedFields.flatMap { $0.offset..<$0.offset + $0.size }
        if let bad = padded.indices.first(where: { padded[$0] != 0 && !settable.contains($0) }) {
            throw .badContext("ctx_in sets byte \(bad) of struct __sk_buff, which a test run cannot set")
        }
        let memory = GuestMemory(bytes: padded)
        mark = memory.load(UInt32.self, at: SKBContext.mark)
        priority = memory.load(UInt32.self, at: SKBContext.priority)
        ingressInterface = memory.load(UInt32.self, at: SKBContext.ingressInterface)
        let index = memory.load(UInt32.self, at: SKBContext.interface)
        guard index <= 1 else { throw .badContext("ctx_in ifindex \(index): BPFKit runs on the loopback device (ifindex 1)") }
        controlBlock = (0..<5).map { memory.load(UInt32.self, at: SKBContext.controlBlock + 4 * $0) }
        timestamp = memory.load(UInt64.self, at: SKBContext.timestamp)
        wireLength = memory.load(UInt32.self, at: SKBContext.wireLength)
        gsoSegments = memory.load(UInt32.self, at: SKBContext.gsoSegments)
        gsoSize = memory.load(UInt32.self, at: SKBContext.gsoSize)
        hardwareTimestamp = memory.load(UInt64.self, at: SKBContext.hardwareTimestamp)
    }
}

/// BPFKit's `tc` context: `struct __sk_buff` (192 bytes, the kernel's
/// offsets) for the scalar fields, then the packet pointers as 64-bit words.
/// Loads of `data`, `data_end` and `data_meta` are rewritten to 8-byte loads
/// of the words; every other field is read (and, where allowed, written) in
/// place.
public enum SKBContext {
    public static let length = 0
    public static let packetType = 4
    public static let mark = 8
    public static let queueMapping = 12
    public static let protocolField = 16
    public static let vlanPresent = 20
    public static let vlanTCI = 24
    public static let vlanProtocol = 28
    public static let priority = 32
    public static let ingressInterface = 36
    public static let interface = 40
    public static let tcIndex = 44
    public static let controlBlock = 48
    public static let hash = 68
    public static let tcClassID = 72
    public static let kernelData = 76
    public static let kernelDataEnd = 80
    public static let napiID = 84
    public static let family = 88
    public static let localPort = 136
    public static let kernelDataMeta = 140
    public static let flowKeys = 144
    public static let timestamp = 152
    public static let wireLength = 160
    public static let gsoSegments = 164
    public static let socket = 168
    public static let gsoSize = 176
    public static let timestampType = 180
    public static let hardwareTimestamp = 184
    public static let kernelSize = 192
    /// The packet pointers, after the kernel's struct.
    public static let data = 192
    public static let dataEnd = 200
    public static let dataMeta = 208
    public static let size = 216

    /// What `convert_skb_to___skb` copies into `ctx_out`: (offset, size).
    static let returnedFields: [(offset: Int, size: Int)] = [
        (mark, 4), (priority, 4), (ingressInterface, 4), (interface, 4), (controlBlock, 20),
        (timestamp, 8), (wireLength, 4), (gsoSegments, 4), (gsoSize, 4), (hardwareTimestamp, 8),
    ]
}

/// Live socket buffers by context address, so that helpers, which receive
/// only the context pointer, can reach the buffer behind it.
enum SKBuffs {
    private final class Box: @unchecked Sendable {
        weak var skb: SKBuff?
        init(_ skb: SKBuff) { self.skb = skb }
    }
    private final class Table: @unchecked Sendable { var buffers: [UInt64: Box] = [:] }
    private static let lock = Lock()
    private static let table = Table()

    static func register(_ skb: SKBuff) {
        lock.withLock { table.buffers[skb.context.address] = Box(skb) }
    }

    static func unregister(_ address: UInt64) {
        lock.withLock { _ = table.buffers.removeValue(forKey: address) }
    }

    static func buffer(at context: UInt64) -> SKBuff? {
        lock.withLock { table.buffers[context]?.skb }
    }
}

/// The kernel's checksum update primitives (`include/net/checksum.h`), on
/// 16-bit checksums as they sit in the packet and 32-bit values as the
/// program passes them (network order, loaded as host integers).
enum KernelChecksum {
    static func add(_ a: UInt32, _ b: UInt32) -> UInt32 {
        let r = a &+ b
        return r &+ (r < b ? 1 : 0)
    }

    static func fold(_ sum: UInt32) -> UInt16 {
        var s = (sum & 0xffff) + (sum >> 16)
        s = (s & 0xffff) + (s >> 16)
        return UInt16(truncatingIfNeeded: ~s)
    }

    /// `csum_replace4` (and `inet_proto_csum_replace4` without offload).
    static func replace4(_ sum: UInt16, _ from: UInt32, _ to: UInt32) -> UInt16 {
        fold(add(add(~UInt32(sum), ~from), to))
    }

    /// `csum_replace2`.
    static func replace2(_ sum: UInt16, _ from: UInt16, _ to: UInt16) -> UInt16 {
        func add16(_ c: UInt16, _ a: UInt16) -> UInt16 {
            let r = c &+ a
            return r &+ (r < a ? 1 : 0)
        }
        return ~add16(add16(~sum, ~from), to)
    }

    /// `csum_replace_by_diff`.
    static func replaceByDifference(_ sum: UInt16, _ difference: UInt32) -> UInt16 {
        fold(add(difference, ~UInt32(sum)))
    }
}

/// Error numbers the skb helpers return beyond the maps' set.
enum SKBErrno {
    static let EFAULT: Int32 = 14
    static let EALREADY: Int32 = 114
}
