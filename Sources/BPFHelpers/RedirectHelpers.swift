import BPFMaps
import BPFRuntime

/// Where a packet goes after a run that returned `XDP_REDIRECT`: the
/// forwarding decision the program made with `bpf_redirect` or
/// `bpf_redirect_map` (the last call of the run wins, as in the kernel's
/// per-CPU `bpf_redirect_info`).
public struct RedirectTarget: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// `bpf_redirect(ifindex, 0)`: out of the interface `interface`.
        case interface = "ifindex"
        /// `bpf_redirect_map` on a devmap or devmap_hash: the entry `key`, whose device is `interface`.
        case deviceMap = "devmap"
        /// `bpf_redirect_map` on a cpumap: to CPU `key`.
        case cpu = "cpumap"
        /// `bpf_redirect_map` on an xskmap: to the AF_XDP socket of queue `key`.
        case socket = "xsk"
        /// `bpf_redirect_map` with `BPF_F_BROADCAST` on a device map: to every entry
        /// (but the ingress interface with `BPF_F_EXCLUDE_INGRESS`).
        case broadcast = "broadcast"
    }

    public var kind: Kind
    /// The map's name (nil for `bpf_redirect`).
    public var map: String?
    /// The map's type (nil for `bpf_redirect`).
    public var mapType: MapType?
    /// The map key (entry, CPU or queue); for `.interface` the ifindex; 0 for a broadcast.
    public var key: UInt32
    /// The ifindex the packet leaves by: for `.interface`, and for a device map entry its `ifindex`.
    public var interface: UInt32?
    /// `BPF_F_EXCLUDE_INGRESS`, for broadcasts.
    public var excludeIngress: Bool
    /// `BPF_F_INGRESS` (tc's `bpf_redirect`): into the interface's receive
    /// path rather than out of it.
    public var ingress: Bool

    public init(kind: Kind, map: String? = nil, mapType: MapType? = nil, key: UInt32, interface: UInt32? = nil,
                excludeIngress: Bool = false, ingress: Bool = false) {
        self.kind = kind
        self.map = map
        self.mapType = mapType
        self.key = key
        self.interface = interface
        self.excludeIngress = excludeIngress
        self.ingress = ingress
    }

    public var description: String {
        switch kind {
        case .interface: "ifindex \(key)" + (ingress ? " (ingress)" : "")
        case .deviceMap: "\(mapType.map { "\($0)" } ?? "devmap") \(map ?? "?")[\(key)] (ifindex \(interface.map { "\($0)" } ?? "?"))"
        case .cpu: "cpumap \(map ?? "?")[\(key)] (CPU \(key))"
        case .socket: "xskmap \(map ?? "?")[\(key)] (queue \(key))"
        case .broadcast: "broadcast to every entry of \(map ?? "?")" + (excludeIngress ? " except the ingress interface" : "")
        }
    }
}

/// One run's redirect state (the kernel's `bpf_redirect_info`).
final class RedirectRecord: @unchecked Sendable {
    private let lock = Lock()
    private var current: RedirectTarget?

    var target: RedirectTarget? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// The XDP actions (`enum xdp_action`).
public enum XDPAction: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    case aborted = 0, drop = 1, pass = 2, tx = 3, redirect = 4

    public var description: String {
        switch self {
        case .aborted: "XDP_ABORTED"
        case .drop: "XDP_DROP"
        case .pass: "XDP_PASS"
        case .tx: "XDP_TX"
        case .redirect: "XDP_REDIRECT"
        }
    }
}

extension KernelHelpers {
    /// `BPF_F_BROADCAST` and `BPF_F_EXCLUDE_INGRESS`, the flags only device maps take.
    static let broadcastFlag: UInt64 = 1 << 3
    static let excludeIngressFlag: UInt64 = 1 << 4
    /// The low bits of `bpf_redirect_map`'s flags: the action returned when the key has no entry.
    static let fallbackActionMask: UInt64 = 3

    /// `BPF_F_INGRESS`, the one flag tc's `bpf_redirect` takes.
    static let ingressFlag: UInt64 = 1

    /// The redirect state of the run whose context the call's memory holds,
    /// and whether the run is a tc one (else XDP).
    static func redirectRecord(_ call: borrowing HelperCall, _ helper: KernelHelper) throws(HelperError) -> (RedirectRecord, tc: Bool) {
        for region in call.memory.regions.regions where region.kind == .context {
            if let frame = XDPFrames.frame(at: region.start) { return (frame.redirect, false) }
            if let skb = SKBuffs.buffer(at: region.start) { return (skb.redirect, true) }
        }
        throw HelperError("\(helper.name): this run has no XDP or tc context to record a redirect in")
    }

    static func redirectHelpers(_ env: HelperEnvironment) -> [Helper] {
        [
            // XDP (bpf_xdp_redirect): any flag aborts. tc (bpf_redirect):
            // flags other than BPF_F_INGRESS give TC_ACT_SHOT. Otherwise the
            // target is the ifindex, and the result the type's redirect action.
            helper(.redirect) { call throws(HelperError) in
                let (record, tc) = try redirectRecord(call, .redirect)
                let flags = call.argument(2), interface = UInt32(truncatingIfNeeded: call.argument(1))
                if tc {
                    guard flags & ~ingressFlag == 0 else { return UInt64(TCAction.shot.rawValue) }
                    record.target = RedirectTarget(kind: .interface, key: interface, interface: interface, ingress: flags != 0)
                    return UInt64(TCAction.redirect.rawValue)
                }
                guard flags == 0 else { return XDPAction.aborted.rawValue }
                record.target = RedirectTarget(kind: .interface, key: interface, interface: interface)
                return XDPAction.redirect.rawValue
            },
            // __bpf_xdp_redirect_map: unknown flags abort; a missing entry clears
            // the state and returns the fallback action in the flags' low bits.
            helper(.redirectMap) { call throws(HelperError) in
                let map = try env.map(call.argument(1), argument: 1, of: .redirectMap)
                guard let redirectMap = map as? RedirectMap else {
                    throw HelperError("bpf_redirect_map: argument 1 is \(map.definition.type) '\(map.name)', not a devmap, devmap_hash, cpumap or xskmap")
                }
                let (record, _) = try redirectRecord(call, .redirectMap)
                let type = map.definition.type
                let flags = call.argument(3)
                let isDeviceMap = type == .deviceMap || type == .deviceMapHash
                let allowed = fallbackActionMask | (isDeviceMap ? broadcastFlag | excludeIngressFlag : 0)
                guard flags & ~allowed == 0 else { return XDPAction.aborted.rawValue }
                let key = UInt32(truncatingIfNeeded: call.argument(2))
                if flags & broadcastFlag != 0 {
                    record.target = RedirectTarget(kind: .broadcast, map: map.name, mapType: type, key: 0,
                                                   excludeIngress: flags & excludeIngressFlag != 0)
                    return XDPAction.redirect.rawValue
                }
                let entry = redirectMap.redirectEntry(key)
                guard entry.present else {
                    record.target = nil
                    return flags & fallbackActionMask
                }
                let kind: RedirectTarget.Kind = isDeviceMap ? .deviceMap : type == .cpuMap ? .cpu : .socket
                record.target = RedirectTarget(kind: kind, map: map.name, mapType: type, key: key, interface: entry.interface)
                return XDPAction.redirect.rawValue
            },
        ]
    }
}
