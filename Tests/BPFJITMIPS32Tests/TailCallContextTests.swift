import BPFHelpers
import BPFISA
import BPFJITMIPS32
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// Tail calls whose r1 is not the run's context stop at the call on the
/// MIPS32 JIT (both byte orders), as on the interpreter and the other backends; with r1 the
/// context (a guest address here) they go through.
@Suite struct TailCallContextTests {
    @Test(arguments: TailCallContextCases.all)
    func tailCallsWithAnotherR1Stop(_ test: TailCallContextCases.Case) throws {
        for engine in [MIPS32JIT(bigEndian: false), MIPS32JIT(bigEndian: true)] {
            let f = try TailCallTests.Fixture(engine)
            try f.array.set(try f.target(Program([.alu(.w64, .mov, dst: .r0, .immediate(7)), .exit], name: "leaf")), at: 1)
            // The run-time backstop, for code no verifier has seen.
            let linked = try LinkedProgram(program: test.caller, type: ProgramTypes.mem, maps: [f.array],
                                           options: LoadOptions(trace: { _ in }, verifierLimits: nil))
            let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
            if let value = test.returns {
                #expect(try f.run(prepared).0 == value)
                let verified = try f.link(test.caller)
                let proven = try engine.prepare(verified.program, configuration: verified.engineConfiguration(verified: true))
                #expect(try f.run(proven).0 == value)
            } else {
                #expect(throws: ExecutionError.tailCallContextMismatch(pc: test.callPC)) { try f.run(prepared) }
                // The verifier refuses it up front.
                #expect(throws: (any Error).self) { try f.link(test.caller) }
            }
        }
    }
}
