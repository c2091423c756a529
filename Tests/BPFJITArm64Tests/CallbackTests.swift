import BPFKit
import Foundation
import Testing

/// bpf_loop and bpf_for_each_map_elem (Tests/Fixtures/bpf-programs/callbacks.c):
/// the loader turns them into bytecode loops with bpf-to-bpf calls, which
/// this JIT runs like any code. Every program over a sequence of packets,
/// each engine with its own maps: r0 and the `results` map after every
/// run must be the interpreter's (which BPFLoaderTests checks against a
/// model of the kernel's helpers and against the kernel).
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the programs"))
struct CallbackTests {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bpf-programs/callbacks.c").path
    static let programs = ["loop_packet", "loop_errors", "each_array", "each_hash"]
    static let targets: [(name: String, architecture: Architecture, byteOrder: ByteOrder?)] = [("arm64", .arm64, nil)]

    static let packets: [[UInt8]] = {
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

    static func observe(_ name: String, engine: EngineKind, architecture: Architecture?, byteOrder: ByteOrder?) throws -> [String] {
        var request = LoadRequest(programName: name, trace: { _ in })
        request.byteOrder = byteOrder
        let file = try ProgramFile.load(path: source, request)
        let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
        let results = file.object?.map(named: "results")
        return try packets.map { packet in
            let r0: String
            do { r0 = "\(try loaded.run(input: packet).returnValue)" } catch { r0 = "error \(error)" }
            let slots = try (0..<8).map { (slot: UInt32) in
                try results?.lookup(key: withUnsafeBytes(of: byteOrder == .big ? slot.bigEndian : slot.littleEndian) { Array($0) }) ?? []
            }
            return "r0 \(r0) results \(slots)"
        }
    }

    @Test(arguments: programs)
    func matchesTheInterpreter(name: String) throws {
        for target in Self.targets {
            let reference = try Self.observe(name, engine: .interpreter, architecture: nil, byteOrder: target.byteOrder)
            #expect(reference.contains { !$0.contains("error") }, "\(name): the interpreter ran nothing to the end")
            let jit = try Self.observe(name, engine: .jit, architecture: target.architecture, byteOrder: target.byteOrder)
            for (k, (a, b)) in zip(reference, jit).enumerated() where a != b {
                Issue.record("\(name), packet \(k): interpreter \(a), \(target.name) \(b)")
            }
        }
    }

    /// An embedder function (kfunc) called from C: arguments placed by its
    /// prototype (a 64-bit and a 32-bit number, a buffer and its size, an
    /// 8-byte output), the same result as on the interpreter.
    @Test func kernelFunctionsMatchTheInterpreter() throws {
        let source = """
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
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-kfuncs-emulated-\(getpid()).c")
        try source.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let functions = KernelFunctions([
            KernelFunction(name: "host_scale", arguments: [.scalar(bits: 64), .scalar(bits: 32)]) { call in call.argument(1) &* call.argument(2) },
            KernelFunction(name: "host_checksum", arguments: [.buffer(writable: false), .size], resultBits: 32) { call throws(HelperError) in
                try call.memory.withBytes(at: call.argument(1), count: Int(call.argument(2)), write: false) { bytes in
                    UInt64(bytes.reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) })
                }
            },
            KernelFunction(name: "host_stamp", arguments: [.memory(size: 8, writable: true)], resultBits: 0) { call throws(HelperError) in
                try call.memory.withBytes(at: call.argument(1), count: 8, write: true) { $0.storeBytes(of: UInt64(1000), as: UInt64.self) }
                return 0
            },
        ])
        let packet = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let expected = (UInt64(packet.prefix(16).reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) }) * 3 + 1000) & 0xffff
        for target in Self.targets where target.byteOrder == nil {
            var request = LoadRequest(programName: "use_host", trace: { _ in })
            request.kernelFunctions = functions
            let loaded = try LoadedProgram(try ProgramFile.load(path: file.path, request), engine: .jit, architecture: target.architecture)
            #expect(try loaded.run(input: packet).returnValue == expected, "\(target.name)")
        }
    }
}
