import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// One corpus, every engine: the generated suite and the conformance corpus
/// run on the JIT and on the interpreter, and must agree with each other and
/// with the expected value.
@Suite struct ParityTests {
    /// The helpers the conformance corpus calls; the same registry for both engines.
    static let corpusHelpers = HelperRegistry([
        Helper(id: 5, name: "unwind", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            call.argument(1)
        },
    ])

    enum Outcome: Equatable, CustomStringConvertible {
        case value(UInt64), failure(ExecutionError), notPrepared(String)
        var description: String {
            switch self {
            case .value(let v): "0x" + String(v, radix: 16)
            case .failure(let e): "\(e)"
            case .notPrepared(let why): "not prepared: \(why)"
            }
        }
    }

    static func outcome(_ program: Program, memory bytes: [UInt8], on engine: some ExecutionEngine,
                        helpers: HelperRegistry = HelperRegistry()) -> Outcome {
        let memory = GuestMemory(bytes: bytes)
        let prepared: any PreparedProgram
        do {
            prepared = try engine.prepare(program, configuration: EngineConfiguration(helpers: helpers, instructionLimit: 10_000))
        } catch {
            return .notPrepared("\(error)")
        }
        do {
            return .value(try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                                    regions: MemoryRegions([memory.region(.input)]))))
        } catch {
            return .failure(error)
        }
    }

    /// Every category on the JIT with and without BMI2's shifts (the
    /// three-operand `shlx`/`shrx`/`sarx`, and the `cl` forms that save BPF
    /// r4 around them), where the CPU has BMI2; the `cl` forms everywhere.
    static let shiftForms: [Bool] = JITOptions.hostHasBMI2 ? [true, false] : [false]

    @Test(arguments: GeneratedSuite.categories().map(\.name), shiftForms)
    func generatedSuite(_ name: String, bmi2: Bool) {
        let cases = GeneratedSuite.categories().first { $0.name == name }!.cases
        var failures: [String] = [], jited = 0
        for testCase in cases {
            let jit = Self.outcome(testCase.program, memory: testCase.memory, on: X86_64JIT(options: JITOptions(useBMI2: bmi2)))
            let reference = Self.outcome(testCase.program, memory: testCase.memory, on: Interpreter())
            if case .notPrepared = jit {} else { jited += 1 }
            if jit != reference || jit != .value(testCase.expected) {
                failures.append("\(testCase.name): jit \(jit), interpreter \(reference), expected 0x\(String(testCase.expected, radix: 16))")
            }
        }
        print("generated suite on the JIT\(bmi2 ? " (BMI2 shifts)" : ""), \(name): \(cases.count - failures.count) passed, \(failures.count) failed [\(jited)/\(cases.count) JIT'ed]")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    static var corpusDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/tests").path
    }

    @Test func conformanceCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpusDirectory).filter { $0.hasSuffix(".data") }.sorted()
        #expect(files.count > 100)
        var failures: [String] = [], jited = 0, passed = 0
        for name in files {
            let file = try ConformanceFile(path: Self.corpusDirectory + "/" + name)
            let program = try file.program()
            let jit = Self.outcome(program, memory: file.memory, on: X86_64JIT(), helpers: Self.corpusHelpers)
            let reference = Self.outcome(program, memory: file.memory, on: Interpreter(), helpers: Self.corpusHelpers)
            if case .notPrepared = jit {} else { jited += 1 }
            var expectedMatches = true
            switch file.expected {
            case .result(let v): expectedMatches = jit == .value(v)
            case .none: expectedMatches = true
            default: if case .value = jit { expectedMatches = false }
            }
            if jit != reference || !expectedMatches {
                failures.append("\(name): jit \(jit), interpreter \(reference), expected \(file.expected)")
            } else {
                passed += 1
            }
        }
        print("conformance corpus on the JIT: \(passed) passed, \(failures.count) failed [\(jited)/\(files.count) JIT'ed]")
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }
}
