import Foundation
import Testing
import BPFKit

/// Embedder functions (kfuncs): a Swift host registers functions by name
/// with their prototypes; C programs declare them `extern ... __ksym` and
/// call them. The ELF loader resolves each call by the function's name in
/// the object's BTF; the loader turns it into a helper call, verified by the
/// prototype, on every engine.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the programs"))
struct KernelFunctionTests {
    static let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    extern __u64 host_scale(__u64 value, __u32 factor) __ksym;
    extern __u32 host_checksum(const void *data, __u32 size) __ksym;
    extern void host_stamp(__u64 *out) __ksym;

    SEC("xdp")
    int use_host(struct xdp_md *ctx) {
        __u8 buffer[16] = {};
        __u8 *p = (void *)(long)ctx->data;
        if ((void *)(p + 16) > (void *)(long)ctx->data_end) return XDP_ABORTED;
        __builtin_memcpy(buffer, p, 16);
        __u64 stamp = 0;
        host_stamp(&stamp);
        return (int)((host_scale(host_checksum(buffer, sizeof(buffer)), 3) + stamp) & 0xffff);
    }

    extern int host_missing(int x) __ksym;

    SEC("xdp")
    int use_missing(struct xdp_md *ctx) { return host_missing(1); }

    char LICENSE[] SEC("license") = "GPL";
    """

    static let functions = KernelFunctions([
        KernelFunction(name: "host_scale", arguments: [.scalar(bits: 64), .scalar(bits: 32)]) { call in
            call.argument(1) &* call.argument(2)
        },
        KernelFunction(name: "host_checksum", arguments: [.buffer(writable: false), .size], resultBits: 32) { call throws(HelperError) in
            try call.memory.withBytes(at: call.argument(1), count: Int(call.argument(2)), write: false) { bytes in
                UInt64(bytes.reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) })
            }
        },
        KernelFunction(name: "host_stamp", arguments: [.memory(size: 8, writable: true)], resultBits: 0) { call throws(HelperError) in
            try call.memory.withBytes(at: call.argument(1), count: 8, write: true) { out in out.storeBytes(of: UInt64(1000).littleEndian, as: UInt64.self) }
            return 0
        },
    ])

    static func path() throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-kfuncs-\(getpid()).c")
        try Self.source.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    static func packet() -> [UInt8] { (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) } }

    static func expected() -> UInt64 {
        let sum = packet().prefix(16).reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) }
        return (UInt64(sum) * 3 + 1000) & 0xffff
    }

    @Test func programsCallRegisteredFunctionsOnEveryEngine() throws {
        var request = LoadRequest(programName: "use_host", trace: { _ in })
        request.kernelFunctions = Self.functions
        let file = try ProgramFile.load(path: try Self.path(), request)
        #expect(file.linked.verification.refusal == nil)
        var engines: [(EngineKind, Architecture?)] = [(.interpreter, nil)]
        if Architecture.host != nil { engines.append((.jit, nil)) }
        for (engine, architecture) in engines {
            let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
            #expect(try loaded.run(input: Self.packet()).returnValue == Self.expected(), "\(engine)")
        }
    }

    @Test func anUnknownFunctionIsALoadErrorNamingIt() throws {
        var request = LoadRequest(programName: "use_missing", trace: { _ in })
        request.kernelFunctions = Self.functions
        do {
            _ = try ProgramFile.load(path: try Self.path(), request)
            Issue.record("loaded a program calling an unregistered function")
        } catch {
            #expect("\(error)".contains("call to kernel function 'host_missing', which is not registered"), "\(error)")
        }
    }

    /// The prototype is checked: a buffer whose size the verifier cannot
    /// bound inside the stack is not proven, a function told it writes 8
    /// bytes gets a stack pointer to 8 written bytes.
    @Test func callsAreVerifiedByPrototype() throws {
        var request = LoadRequest(programName: "use_host", trace: { _ in })
        request.kernelFunctions = Self.functions
        let file = try ProgramFile.load(path: try Self.path(), request)
        let report = file.linked.verification
        #expect(report.helperCallCount >= 3, "\(report.summary)")
        #expect(report.helperCallsInBounds == report.helperCallCount, "\(report.log)")
    }
}
