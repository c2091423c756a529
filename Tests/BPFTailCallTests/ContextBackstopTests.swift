import BPFInterpreter
import BPFISA
import BPFLoader
import BPFRuntime
import BPFTestSuite
import Testing

/// The run-time backstop behind the verifier's rule that `bpf_tail_call`'s
/// r1 is the program's context: every engine compares r1 with the run's
/// context pointer and stops the run at the call when they differ, so a
/// target's proofs about its context never meet memory the caller chose.
/// The verifier refuses such callers at load; the backstop is checked on
/// them unverified (and on the callers that keep r1, verified too), on the interpreter and the x86-64 JIT (arm64:
/// BPFJITArm64Tests.TailCallContextTests).
@Suite struct ContextBackstopTests {
    static let engineNames = engines.map(\.name)

    @Test(arguments: engineNames, TailCallContextCases.all)
    func tailCallsWithAnotherR1Stop(_ name: String, _ test: TailCallContextCases.Case) throws {
        let f = try Fixture(engines.first { $0.name == name }!)
        try f.set(1, returns(7))
        // The verifier refuses every caller the backstop stops; the backstop
        // is for a verifier that errs, so those run unverified.
        if test.returns == nil {
            #expect(throws: ObjectLoadError.self, "\(name): the verifier refuses it") { try f.link(test.caller) }
        }
        for verified in test.returns == nil ? [false] : [false, true] {
            let linked = try f.link(test.caller, verified: verified)
            let prepared = try f.engine.prepare(linked.program, configuration: linked.engineConfiguration(verified: verified))
            if let value = test.returns {
                #expect(try f.run(prepared).0 == value, "\(name), verified \(verified)")
            } else {
                #expect(throws: ExecutionError.tailCallContextMismatch(pc: test.callPC), "\(name), verified \(verified)") {
                    try f.run(prepared)
                }
            }
        }
    }
}
