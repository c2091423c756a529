import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The generated suite and the conformance corpus on the arm32 JIT under
/// the emulator and on the interpreter: they must agree with each other and
/// with the expected value.
@Suite struct ParityTests {
    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuite(_ name: String) {
        let cases = GeneratedSuite.categories().first { $0.name == name }!.cases
        // Division with UDIV/SDIV and through the runtime calls.
        let engines: [(String, Arm32JIT)] = name.contains("div") || name.contains("mod") || name.contains("alu")
            ? [("udiv", arm32()), ("calls", arm32(divide: false))] : [("udiv", arm32())]
        for (label, engine) in engines {
            var failures: [String] = []
            for testCase in cases {
                let jit = outcome(testCase.program, memory: testCase.memory, on: engine, limit: 10_000)
                let reference = outcome(testCase.program, memory: testCase.memory, on: Interpreter(), limit: 10_000)
                if jit != reference || jit != .value(testCase.expected) {
                    failures.append("\(testCase.name): jit \(jit), interpreter \(reference), expected 0x\(String(testCase.expected, radix: 16))")
                }
            }
            print("generated suite on arm32 (\(label)), \(name): \(cases.count - failures.count)/\(cases.count) passed")
            #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
        }
    }

    static var corpusDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/tests").path
    }

    /// The corpus through the facade's runner (`--engine jit --arch arm32`),
    /// and each file's outcome against the interpreter's, error for error.
    @Test func conformanceCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpusDirectory).filter { $0.hasSuffix(".data") }.sorted()
        #expect(files.count > 100)
        let runner = ConformanceRunner(engine: .jit, architecture: .arm32)
        var failures: [String] = [], passed = 0
        for name in files {
            let path = Self.corpusDirectory + "/" + name
            let verdict = runner.run(path: path)
            guard verdict == .passed else {
                failures.append("\(name): \(verdict)")
                continue
            }
            let file = try ConformanceFile(path: path)
            let program = try file.program()
            for engine in [arm32(), arm32(divide: false)] {
                let jit = outcome(program, memory: file.memory, on: engine, helpers: ConformanceRunner.helpers)
                let reference = outcome(program, memory: file.memory, on: Interpreter(), helpers: ConformanceRunner.helpers)
                if jit != reference { failures.append("\(name) (udiv \(engine.options.hardwareDivide)): jit \(jit), interpreter \(reference)") }
            }
            passed += 1
        }
        print("conformance corpus on arm32: \(passed - failures.count)/\(files.count) passed")
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }
}
