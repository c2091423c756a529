import BPFHelpers
import BPFRuntime

/// Inputs and programs the clang-built object tests share: BPFLoaderTests
/// and BPFKitTests check them against models of the kernel's helpers (and
/// against the kernel), and the backend test kit (`ObjectKit`) runs the
/// same ones on every backend against the interpreter.
public enum ObjectFixtures {
    /// Packets for `Tests/Fixtures/bpf-programs/callbacks.c`: byte 14 picks
    /// where `loop_packet` stops and the hash key, byte 15 where
    /// `each_array` stops; some hold 0xff early, the last is short.
    public static let callbackPackets: [[UInt8]] = {
        var all: [[UInt8]] = []
        for (i, (stop, array)) in [(3, 2), (0, 7), (200, 9), (17, 5), (64, 0), (1, 15), (9, 3)].enumerated() {
            var p = (0..<72).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ i &* 7 &+ 1) }
            for j in p.indices where p[j] == 0xff { p[j] = 0xfe }
            p[14] = UInt8(stop)
            p[15] = UInt8(array)
            if i == 3 { p[40] = 0xff }
            all.append(p)
        }
        return all + [Array(all[0].prefix(20))]
    }()

    /// An XDP program (`use_host`) calling three kernel functions
    /// (`kernelFunctions`) declared `extern ... __ksym`: a 64-bit and a
    /// 32-bit number, a buffer and its size, an 8-byte output.
    public static let kernelFunctionSource = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        extern __u64 host_scale(__u64 value, __u32 factor) __ksym;
        extern __u32 host_checksum(const void *data, __u32 size) __ksym;
        extern void host_stamp(__u64 *out) __ksym;
        SEC("xdp") int use_host(struct xdp_md *ctx) {
            __u8 buffer[16] = {};
            __u8 *p = (void *)(long)ctx->data;
            if ((void *)(p + 16) > (void *)(long)ctx->data_end) return XDP_ABORTED;
            __builtin_memcpy(buffer, p, 16);
            __u64 stamp = 0;
            host_stamp(&stamp);
            return (int)((host_scale(host_checksum(buffer, sizeof(buffer)), 3) + stamp) & 0xffff);
        }
        char LICENSE[] SEC("license") = "GPL";

        """

    /// The functions `kernelFunctionSource` calls: `host_scale` multiplies,
    /// `host_checksum` folds the bytes (x * 31 + byte, 32 bits),
    /// `host_stamp` writes 1000 in the host's byte order.
    public static var kernelFunctions: KernelFunctions { KernelFunctions([
        KernelFunction(name: "host_scale", arguments: [.scalar(bits: 64), .scalar(bits: 32)]) { call in call.argument(1) &* call.argument(2) },
        KernelFunction(name: "host_checksum", arguments: [.buffer(writable: false), .size], resultBits: 32) { call throws(HelperError) in
            try call.memory.withBytes(at: call.argument(1), count: Int(call.argument(2)), write: false) { bytes in
                UInt64(checksum(bytes))
            }
        },
        KernelFunction(name: "host_stamp", arguments: [.memory(size: 8, writable: true)], resultBits: 0) { call throws(HelperError) in
            try call.memory.withBytes(at: call.argument(1), count: 8, write: true) { $0.storeBytes(of: UInt64(1000), as: UInt64.self) }
            return 0
        },
    ]) }

    static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        bytes.reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) }
    }

    /// The packet `use_host` runs on.
    public static let kernelFunctionPacket: [UInt8] = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }

    /// What `use_host` returns on `kernelFunctionPacket` on a little-endian
    /// engine, from the functions' meaning.
    public static var kernelFunctionResult: UInt64 {
        (UInt64(checksum(kernelFunctionPacket.prefix(16))) * 3 + 1000) & 0xffff
    }

    /// An XDP program (`peek`, without includes) that reads through the
    /// result of an outer map's lookup, which is an inner map's handle, not
    /// memory (the kernel's verifier refuses it; every engine must fail it).
    public static let innerMapHandleReadSource = """
        struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 1); } a SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct inner); }
            outer SEC(".maps") = { .values = { &a } };
        SEC("xdp") int peek(struct xdp_md *ctx) {
            __u32 k = 0;
            __u32 *p = bpf_map_lookup_elem(&outer, &k);
            return p ? *p : 7;
        }
        char LICENSE[] SEC("license") = "GPL";
        """
}
