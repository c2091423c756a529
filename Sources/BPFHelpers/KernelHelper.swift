import BPFRuntime

/// The kernel helpers BPFKit implements: numbers from `enum bpf_func_id`
/// (`<linux/bpf.h>`), names, and prototypes. The one table the registry, the
/// verifier and the 32-bit backends read (seed 001: each argument's kind and
/// width decides how a 32-bit JIT passes it).
public enum KernelHelper: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case mapLookupElem = 1
    case mapUpdateElem = 2
    case mapDeleteElem = 3
    case ktimeGetNs = 5
    case tracePrintk = 6
    case getPrandomU32 = 7
    case getSmpProcessorID = 8
    case skbStoreBytes = 9
    case l3CsumReplace = 10
    case l4CsumReplace = 11
    case tailCall = 12
    case getCgroupClassid = 17
    case skbSetTunnelKey = 21
    case skbVlanPush = 18
    case skbVlanPop = 19
    case skbLoadBytes = 26
    case redirect = 23
    case perfEventOutput = 25
    case csumDiff = 28
    case skbChangeProto = 31
    case skbChangeType = 32
    case getHashRecalc = 34
    case skbChangeTail = 38
    case skbPullData = 39
    case csumUpdate = 40
    case setHashInvalid = 41
    case skbChangeHead = 43
    case xdpAdjustHead = 44
    case setHash = 48
    case skbAdjustRoom = 50
    case redirectMap = 51
    case xdpAdjustMeta = 54
    case xdpAdjustTail = 65
    case skbLoadBytesRelative = 68
    case fibLookup = 69
    case ktimeGetBootNs = 125
    case csumLevel = 135
    case ringbufOutput = 130
    case ringbufReserve = 131
    case ringbufSubmit = 132
    case ringbufDiscard = 133
    case ringbufQuery = 134
    case ktimeGetCoarseNs = 160
    case xdpGetBuffLen = 188
    case xdpLoadBytes = 189
    case xdpStoreBytes = 190
    case mapLookupPercpuElem = 195

    /// The C name, as `bpf_helper_defs.h` declares it.
    public var name: String {
        switch self {
        case .mapLookupElem: "bpf_map_lookup_elem"
        case .mapUpdateElem: "bpf_map_update_elem"
        case .mapDeleteElem: "bpf_map_delete_elem"
        case .ktimeGetNs: "bpf_ktime_get_ns"
        case .tracePrintk: "bpf_trace_printk"
        case .getPrandomU32: "bpf_get_prandom_u32"
        case .getSmpProcessorID: "bpf_get_smp_processor_id"
        case .tailCall: "bpf_tail_call"
        case .skbStoreBytes: "bpf_skb_store_bytes"
        case .l3CsumReplace: "bpf_l3_csum_replace"
        case .l4CsumReplace: "bpf_l4_csum_replace"
        case .getCgroupClassid: "bpf_get_cgroup_classid"
        case .skbSetTunnelKey: "bpf_skb_set_tunnel_key"
        case .skbVlanPush: "bpf_skb_vlan_push"
        case .skbVlanPop: "bpf_skb_vlan_pop"
        case .skbLoadBytes: "bpf_skb_load_bytes"
        case .skbChangeProto: "bpf_skb_change_proto"
        case .skbChangeType: "bpf_skb_change_type"
        case .csumLevel: "bpf_csum_level"
        case .getHashRecalc: "bpf_get_hash_recalc"
        case .skbChangeTail: "bpf_skb_change_tail"
        case .skbPullData: "bpf_skb_pull_data"
        case .csumUpdate: "bpf_csum_update"
        case .setHashInvalid: "bpf_set_hash_invalid"
        case .skbChangeHead: "bpf_skb_change_head"
        case .setHash: "bpf_set_hash"
        case .skbAdjustRoom: "bpf_skb_adjust_room"
        case .skbLoadBytesRelative: "bpf_skb_load_bytes_relative"
        case .fibLookup: "bpf_fib_lookup"
        case .redirect: "bpf_redirect"
        case .perfEventOutput: "bpf_perf_event_output"
        case .redirectMap: "bpf_redirect_map"
        case .csumDiff: "bpf_csum_diff"
        case .xdpAdjustHead: "bpf_xdp_adjust_head"
        case .xdpAdjustMeta: "bpf_xdp_adjust_meta"
        case .xdpAdjustTail: "bpf_xdp_adjust_tail"
        case .ktimeGetBootNs: "bpf_ktime_get_boot_ns"
        case .ringbufOutput: "bpf_ringbuf_output"
        case .ringbufReserve: "bpf_ringbuf_reserve"
        case .ringbufSubmit: "bpf_ringbuf_submit"
        case .ringbufDiscard: "bpf_ringbuf_discard"
        case .ringbufQuery: "bpf_ringbuf_query"
        case .ktimeGetCoarseNs: "bpf_ktime_get_coarse_ns"
        case .xdpGetBuffLen: "bpf_xdp_get_buff_len"
        case .xdpLoadBytes: "bpf_xdp_load_bytes"
        case .xdpStoreBytes: "bpf_xdp_store_bytes"
        case .mapLookupPercpuElem: "bpf_map_lookup_percpu_elem"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }

    /// Kinds and widths of the arguments and result, as the kernel's `bpf_func_proto` gives them.
    public var prototype: HelperPrototype {
        let u32 = ValueKind.scalar(bits: 32), u64 = ValueKind.scalar(bits: 64)
        let input = ValueKind.pointer(readOnly: true), output = ValueKind.pointer(readOnly: false)
        switch self {
        case .mapLookupElem: return HelperPrototype([.map, input], returns: .mapValueOrNull)
        case .mapUpdateElem: return HelperPrototype([.map, input, input, u64], returns: u64)
        case .mapDeleteElem: return HelperPrototype([.map, input], returns: u64)
        case .ktimeGetNs, .ktimeGetBootNs, .ktimeGetCoarseNs: return HelperPrototype([], returns: u64)
        case .tracePrintk: return HelperPrototype([input, .size, u64, u64, u64], returns: u64)
        case .getPrandomU32, .getSmpProcessorID: return HelperPrototype([], returns: u32)
        case .tailCall: return HelperPrototype([.context, .map, u32], returns: u64)
        case .redirect: return HelperPrototype([u32, u64], returns: u64)
        case .perfEventOutput: return HelperPrototype([.context, .map, u64, input, .size], returns: u64)
        case .redirectMap: return HelperPrototype([.map, u64, u64], returns: u64)
        case .csumDiff: return HelperPrototype([input, .size, input, .size, u32], returns: u64)
        case .skbStoreBytes: return HelperPrototype([.context, u32, input, .size, u64], returns: u64)
        case .l3CsumReplace, .l4CsumReplace: return HelperPrototype([.context, u32, u64, u64, u64], returns: u64)
        case .getCgroupClassid, .getHashRecalc: return HelperPrototype([.context], returns: u32)
        case .skbVlanPush: return HelperPrototype([.context, u32, u32], returns: u64)
        case .skbSetTunnelKey: return HelperPrototype([.context, input, .size, u64], returns: u64)
        case .skbVlanPop: return HelperPrototype([.context], returns: u64)
        case .skbLoadBytes: return HelperPrototype([.context, u32, output, .size], returns: u64)
        case .skbLoadBytesRelative: return HelperPrototype([.context, u32, output, .size, u32], returns: u64)
        case .skbChangeProto, .skbChangeTail, .skbChangeHead: return HelperPrototype([.context, u32, u64], returns: u64)
        case .skbPullData, .csumUpdate, .setHash, .skbChangeType: return HelperPrototype([.context, u32], returns: u64)
        case .csumLevel: return HelperPrototype([.context, u64], returns: u64)
        case .setHashInvalid: return HelperPrototype([.context], returns: .void)
        case .skbAdjustRoom: return HelperPrototype([.context, u32, u32, u64], returns: u64)
        case .xdpAdjustHead, .xdpAdjustTail, .xdpAdjustMeta: return HelperPrototype([.context, u32], returns: u64)
        case .ringbufOutput: return HelperPrototype([.map, input, .size, u64], returns: u64)
        case .ringbufReserve: return HelperPrototype([.map, u64, u64], returns: .mapValueOrNull)
        case .ringbufSubmit, .ringbufDiscard: return HelperPrototype([.mapValueOrNull, u64], returns: .void)
        case .ringbufQuery: return HelperPrototype([.map, u64], returns: u64)
        case .xdpGetBuffLen: return HelperPrototype([.context], returns: u64)
        case .xdpLoadBytes: return HelperPrototype([.context, u32, output, .size], returns: u64)
        case .xdpStoreBytes: return HelperPrototype([.context, u32, input, .size], returns: u64)
        case .mapLookupPercpuElem: return HelperPrototype([.map, input, u32], returns: .mapValueOrNull)
        case .fibLookup: return HelperPrototype([.context, output, .size, u32], returns: u64)
        }
    }

    /// Whether the helper takes a socket buffer (`struct __sk_buff`): tc programs only.
    public var requiresSKB: Bool {
        switch self {
        case .skbStoreBytes, .l3CsumReplace, .l4CsumReplace, .getCgroupClassid, .skbSetTunnelKey, .skbVlanPush, .skbVlanPop, .skbLoadBytes,
             .skbLoadBytesRelative, .skbChangeProto, .getHashRecalc, .skbChangeTail, .skbPullData, .csumUpdate,
             .setHashInvalid, .skbChangeHead, .setHash, .skbAdjustRoom, .skbChangeType, .csumLevel: true
        default: false
        }
    }

    /// Whether the helper may change the packet's bytes or move its ends, so
    /// that no packet pointer is trusted afterwards (the kernel's
    /// `bpf_helper_changes_pkt_data`).
    public var changesPacketData: Bool {
        switch self {
        case .xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail, .skbStoreBytes, .l3CsumReplace, .l4CsumReplace,
             .skbVlanPush, .skbVlanPop, .skbChangeProto, .skbChangeTail, .skbPullData, .skbChangeHead, .skbAdjustRoom: true
        default: false
        }
    }

    /// Whether the helper takes a packet program's context (XDP or tc), as
    /// `bpf_fib_lookup` does.
    public var requiresPacketContext: Bool { requiresXDP || requiresSKB || self == .fibLookup || self == .redirect }

    /// Whether the helper only makes sense for XDP programs (it takes an `xdp_md` context).
    public var requiresXDP: Bool {
        switch self {
        case .xdpAdjustHead, .xdpAdjustTail, .xdpAdjustMeta, .xdpGetBuffLen, .xdpLoadBytes, .xdpStoreBytes: true
        // bpf_redirect_map records an XDP run's forwarding decision (tc
        // programs have bpf_redirect, which both types offer).
        case .redirectMap: true
        default: false
        }
    }
}
