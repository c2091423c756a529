import Foundation
import Testing
import BPFKit
import BPFTestSuite

/// Embedder functions (kfuncs): a Swift host registers functions by name
/// with their prototypes; C programs declare them `extern ... __ksym` and
/// call them. The ELF loader resolves each call by the function's name in
/// the object's BTF; the loader turns it into a helper call, verified by the
/// prototype, on every engine.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the programs"))
struct KernelFunctionTests {
    /// The shared program (`use_host`), and one calling a function nobody registered.
    static let source = ObjectFixtures.kernelFunctionSource + """
        extern int host_missing(int x) __ksym;

        SEC("xdp")
        int use_missing(struct xdp_md *ctx) { return host_missing(1); }
        """

    static var functions: KernelFunctions { ObjectFixtures.kernelFunctions }

    static func path() throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-kfuncs-\(getpid()).c")
        try Self.source.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    static func packet() -> [UInt8] { ObjectFixtures.kernelFunctionPacket }

    static func expected() -> UInt64 { ObjectFixtures.kernelFunctionResult }

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
