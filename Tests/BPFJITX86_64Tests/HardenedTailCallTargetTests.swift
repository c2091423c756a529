import BPFJIT
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFMaps
import BPFVerifier
import Foundation
import Testing

/// The programs a hardened run places in its object's program arrays at load
/// are hardened too: a tail call jumps into their code, so a plain target
/// would carry the object's constants into executable memory however the
/// caller was compiled.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the object"))
struct HardenedTailCallTargetTests {
    /// Distinctive constants in the target's ALU and jump immediates.
    static let constants: [UInt32] = [0x3a5c_1d27, 0x4b6d_2e38, 0x5c7e_3f49]

    static let source = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>

        SEC("xdp") int target(struct xdp_md *ctx) {
            void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
            if (data + 4 > end) return XDP_ABORTED;
            __u32 word = *(__u32 *)data;
            return ((word * 0x3a5c1d27u) ^ 0x4b6d2e38u) > 0x5c7e3f49u ? XDP_PASS : XDP_DROP;
        }

        struct {
            __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
            __uint(max_entries, 1);
            __type(key, __u32);
            __array(values, int (void *));
        } jumps SEC(".maps") = { .values = { [0] = (void *)&target } };

        SEC("xdp") int entry(struct xdp_md *ctx) {
            bpf_tail_call(ctx, &jumps, 0);
            return XDP_ABORTED;
        }

        char LICENSE[] SEC("license") = "GPL";
        """

    /// The x86-64 image of the target in slot 0 after loading `entry`.
    func targetImage(hardened: Bool, policy: VerifierPolicy = .privileged) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-harden-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("tail_target.c").path
        try Self.source.write(toFile: path, atomically: true, encoding: .utf8)
        var request = LoadRequest(programName: "entry", trace: { _ in })
        request.policy = policy
        let file = try ProgramFile.load(path: path, request)
        let loaded = try LoadedProgram(file, engine: .jit, architecture: .x86_64, hardened: hardened)
        let object = try #require(loaded.object)
        defer { object.programArrays.forEach { $0.removeAll() } }
        let slot = try #require(try object.programArray(named: "jumps").entry(at: 0).target)
        let native = try #require(slot.prepared(for: X86_64JIT.tailCallEngine) as? NativeProgram)
        // The run goes through the target and gets its verdict.
        let packet = [UInt8](repeating: 0x5a, count: 64)
        let word = UInt32(0x5a5a_5a5a)
        let verdict: UInt64 = ((word &* 0x3a5c_1d27) ^ 0x4b6d_2e38) > 0x5c7e_3f49 ? 2 : 1
        #expect(try loaded.run(input: packet).returnValue == verdict)
        return native.image.bytes
    }

    static func contains(_ bytes: [UInt8], _ value: UInt32) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24 == value
        }
    }

    @Test func plainRunPlacesThePlainTarget() throws {
        let bytes = try targetImage(hardened: false)
        for constant in Self.constants {
            #expect(Self.contains(bytes, constant), "plain target lacks 0x\(String(constant, radix: 16))")
        }
    }

    @Test func hardenedRunPlacesAHardenedTarget() throws {
        let bytes = try targetImage(hardened: true)
        for constant in Self.constants {
            #expect(!Self.contains(bytes, constant), "hardened run's target holds 0x\(String(constant, radix: 16))")
        }
    }

    /// The unprivileged policy hardens the run, and so its targets.
    @Test func unprivilegedRunPlacesAHardenedTarget() throws {
        let bytes = try targetImage(hardened: false, policy: .unprivileged)
        for constant in Self.constants {
            #expect(!Self.contains(bytes, constant), "unprivileged run's target holds 0x\(String(constant, radix: 16))")
        }
    }
}
