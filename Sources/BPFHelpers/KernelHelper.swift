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
    case tailCall = 12
    case redirect = 23
    case perfEventOutput = 25
    case csumDiff = 28
    case xdpAdjustHead = 44
    case redirectMap = 51
    case xdpAdjustMeta = 54
    case xdpAdjustTail = 65
    case ktimeGetBootNs = 125
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
        case .xdpAdjustHead, .xdpAdjustTail, .xdpAdjustMeta: return HelperPrototype([.context, u32], returns: u64)
        case .ringbufOutput: return HelperPrototype([.map, input, .size, u64], returns: u64)
        case .ringbufReserve: return HelperPrototype([.map, u64, u64], returns: .mapValueOrNull)
        case .ringbufSubmit, .ringbufDiscard: return HelperPrototype([.mapValueOrNull, u64], returns: .void)
        case .ringbufQuery: return HelperPrototype([.map, u64], returns: u64)
        case .xdpGetBuffLen: return HelperPrototype([.context], returns: u64)
        case .xdpLoadBytes: return HelperPrototype([.context, u32, output, .size], returns: u64)
        case .xdpStoreBytes: return HelperPrototype([.context, u32, input, .size], returns: u64)
        case .mapLookupPercpuElem: return HelperPrototype([.map, input, u32], returns: .mapValueOrNull)
        }
    }

    /// Whether the helper only makes sense for XDP programs (it takes an `xdp_md` context).
    public var requiresXDP: Bool {
        switch self {
        case .xdpAdjustHead, .xdpAdjustTail, .xdpAdjustMeta, .xdpGetBuffLen, .xdpLoadBytes, .xdpStoreBytes: true
        // Redirects record the run's forwarding decision, which only packet programs have.
        case .redirect, .redirectMap: true
        default: false
        }
    }
}
