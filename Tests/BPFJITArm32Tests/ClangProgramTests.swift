import BPFBackendTestKit
import BPFJITArm32
import BPFKit
import Foundation
import Testing

/// Clang-compiled XDP programs beyond the examples — maps, global data
/// (.data, .bss, .rodata reached through `ld_imm64`), tail calls through a
/// statically initialised program array, subprograms, atomics — on the arm32
/// JIT against the interpreter: results, output packets, traces and maps after
/// every packet of `ExampleKit.packets`, in that order.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the programs"))
struct ClangProgramTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/bpf-programs")

    /// Every C program of the fixtures, and the program to run (nil: the object's first).
    static let programs: [(file: String, program: String?)] = [
        ("global_pipeline", "entry"), ("adjust_limits", nil), ("adjust_meta", nil), ("checksums", nil), ("context_fields", nil),
        ("map_errors", nil), ("trace_lengths", nil), ("redirects", nil), ("perf_events", nil), ("map_in_map", "count_array"),
        ("fib_lookup", "fib_xdp"), ("core_kernel", "core_kernel"),
    ]

    /// Fixtures this suite does not run, and why.
    static let notRun: [String: String] = [
        "tc_context": "a tc program (these runs are XDP's)", "tc_resize": "a tc program", "tc_checksums": "a tc program",
        "tc_stale_pointer": "a tc program",
        "core_fields": "relocated against a target BTF the loader tests build (CORETests)",
        "core_target": "types only: the target BTF of core_fields",
        "callbacks": "four programs, each a check of the backend test kit (ObjectKit)",
    ]

    @Test func everyFixtureIsListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".c") }
        #expect(Set(files.map { String($0.dropLast(2)) }) == Set(Self.programs.map(\.file)).union(Self.notRun.keys))
    }

    @Test(arguments: programs.map(\.file))
    func matchesTheInterpreter(file: String) throws {
        let program = Self.programs.first { $0.file == file }!.program
        let compiler = try CCompiler()
        for cpu in ["v2", "v3"] {
            let object = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-arm32-clang-\(getpid())-\(file)-\(cpu).o")
            let bytes: [UInt8]
            do {
                bytes = try compiler.compile(Self.fixtures.appendingPathComponent("\(file).c").path, cpu: cpu)
            } catch {
                // v2 has no fetching atomics; the program is then built for v3 only.
                continue
            }
            try Data(bytes).write(to: object)
            defer { try? FileManager.default.removeItem(at: object) }
            let reference = try ExampleKit.observe(object.path, cpu: cpu, ExampleKit.Load(program: program)) { file in
                (file.linked, try LoadedProgram(file.linked, engine: .interpreter).prepared)
            }
            #expect(reference.runs.contains { !$0.hasPrefix("error") }, "\(file): the interpreter ran nothing to the end")
            let jit = try ExampleKit.observe(object.path, cpu: cpu, ExampleKit.Load(program: program)) { file in
                (file.linked, try LoadedProgram(file.linked, engine: .jit, architecture: .arm32).prepared)
            }
            #expect(jit == reference, "\(file) -mcpu=\(cpu) on --arch arm32: \(jit.difference(from: reference))")
        }
    }
}
