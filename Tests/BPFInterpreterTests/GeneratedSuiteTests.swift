import BPFISA
import BPFInterpreter
import BPFRuntime
import BPFTestSuite
import Testing

/// The whole generated suite on the interpreter, one test per category.
@Suite struct GeneratedSuiteTests {
    /// Runs one case the way every engine runs it: `memory` as a writable input, r1 and r2 pointing at it.
    static func outcome(of testCase: GeneratedCase, on engine: some ExecutionEngine) -> String? {
        let memory = GuestMemory(bytes: testCase.memory)
        do {
            let prepared = try engine.prepare(testCase.program, configuration: EngineConfiguration(instructionLimit: 10_000))
            let result = try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                                   regions: MemoryRegions([memory.region(.input)])))
            return result == testCase.expected ? nil
                : "\(testCase.name): got 0x\(String(result, radix: 16)), expected 0x\(String(testCase.expected, radix: 16))"
        } catch {
            return "\(testCase.name): \(error)"
        }
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func category(_ name: String) {
        let cases = GeneratedSuite.categories().first { $0.name == name }!.cases
        let failures = cases.compactMap { Self.outcome(of: $0, on: Interpreter()) }
        print("generated suite, \(name): \(cases.count - failures.count) of \(cases.count) passed")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// The suite is large, quick to generate, and its expectations are not
    /// trivially constant (a generator bug producing all-zero results would
    /// let a broken engine pass).
    @Test func suiteShape() {
        let clock = ContinuousClock()
        var cases: [GeneratedCase] = []
        let elapsed = clock.measure { cases = GeneratedSuite.all() }
        print("generated suite: \(cases.count) cases in \(elapsed)")
        #expect(cases.count >= 5_000)
        #expect(elapsed < .seconds(5))
        #expect(Set(cases.map(\.expected)).count > cases.count / 10)
        for category in GeneratedSuite.categories() {
            #expect(Set(category.cases.map(\.expected)).count > 1, "\(category.name) expects a single value")
        }
    }

    /// A runner that compares results must notice a wrong engine: flipping
    /// one expected bit makes a passing case fail.
    @Test func runnerDetectsWrongResults() {
        for testCase in GeneratedSuite.alu64().prefix(50) {
            var wrong = testCase
            wrong.expected ^= 1
            #expect(Self.outcome(of: wrong, on: Interpreter()) != nil)
        }
    }
}
