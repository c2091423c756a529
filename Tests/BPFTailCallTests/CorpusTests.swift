import BPFInterpreter
import BPFISA
import BPFRuntime
import BPFTestSuite
import Testing

/// The tail-call corpus (`TailCallCases`) on the interpreter. Every JIT
/// backend runs the same corpus, plain and hardened, from its row of the
/// shared backend test kit (`BackendKit`, `TailCallKit.corpus`).
@Suite struct CorpusTests {
    struct Run: CustomStringConvertible, Sendable {
        let engine: String
        let test: TailCallCase
        var description: String { "\(test.name) on \(engine)" }
    }

    static let runs = engines.filter { $0 is Interpreter }.flatMap { engine in TailCallCases.all.map { Run(engine: engine.name, test: $0) } }

    @Test(arguments: runs)
    func corpus(_ run: Run) throws {
        let f = try Fixture(engines.first { $0.name == run.engine }!, maxEntries: [run.test.maxEntries])
        for (slot, program) in run.test.slots { try f.set(slot, program) }
        let prepared = try f.prepare(run.test.main, limit: run.test.instructionLimit)
        let outcome = try run.test.outcome { try f.run(prepared, input: run.test.input) }
        #expect(outcome == run.test.expected)
    }
}
