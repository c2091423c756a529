import BPFISA
import BPFRuntime
import BPFTestSuite
import Testing

/// The tail-call corpus (`TailCallCases`, shared with the arm64 tests) on
/// every engine here.
@Suite struct CorpusTests {
    struct Run: CustomStringConvertible, Sendable {
        let engine: String
        let test: TailCallCase
        var description: String { "\(test.name) on \(engine)" }
    }

    static let runs = engines.flatMap { engine in TailCallCases.all.map { Run(engine: engine.name, test: $0) } }

    @Test(arguments: runs)
    func corpus(_ run: Run) throws {
        let f = try Fixture(engines.first { $0.name == run.engine }!, maxEntries: [run.test.maxEntries])
        for (slot, program) in run.test.slots { try f.set(slot, program) }
        let prepared = try f.prepare(run.test.main, limit: run.test.instructionLimit)
        let outcome = try run.test.outcome { try f.run(prepared, input: run.test.input) }
        #expect(outcome == run.test.expected)
    }

    /// The same corpus with every program of it compiled hardened (constant
    /// blinding) by the JITs: the rewritten programs keep their tail-call
    /// sites (direct ones too) and their results.
    @Test(arguments: runs.filter { $0.engine != "interpreter" })
    func hardenedCorpus(_ run: Run) throws {
        let f = try Fixture(engines.first { $0.name == run.engine }!, maxEntries: [run.test.maxEntries], hardened: true)
        for (slot, program) in run.test.slots { try f.set(slot, program) }
        let prepared = try f.prepare(run.test.main, limit: run.test.instructionLimit)
        let outcome = try run.test.outcome { try f.run(prepared, input: run.test.input) }
        #expect(outcome == run.test.expected)
    }
}
