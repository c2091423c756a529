import BPFISA
import BPFJITArm64
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// Tail calls whose r1 is not the run's context stop at the call on the
/// arm64 JIT too (near and far from the helpers), as on the interpreter
/// (BPFTailCallTests.ContextBackstopTests).
@Suite struct TailCallContextTests {
    @Test(arguments: TailCallContextCases.all)
    func tailCallsWithAnotherR1Stop(_ test: TailCallContextCases.Case) throws {
        for engine in [arm64(), arm64(placement: .farFromHelpers)] {
            let f = try TailCallTests.Fixture(engine)
            try f.array.set(try f.target(Program([.alu(.w64, .mov, dst: .r0, .immediate(7)), .exit], name: "leaf")), at: 1)
            if test.returns == nil {
                #expect(throws: ObjectLoadError.self, "the verifier refuses it") { try f.link(test.caller) }
            }
            for verified in test.returns == nil ? [false] : [false, true] {
                let linked = try f.link(test.caller, verified: verified)
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(verified: verified))
                if let value = test.returns {
                    #expect(try f.run(prepared).0 == value, "verified \(verified)")
                } else {
                    #expect(throws: ExecutionError.tailCallContextMismatch(pc: test.callPC), "verified \(verified)") {
                        try f.run(prepared)
                    }
                }
            }
        }
    }
}
