import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// The executed-instruction budget and prepare-time validation.
@Suite struct LimitTests {
    @Test func jumpToSelfHitsTheLimit() throws {
        let error = try Harness(instructionLimit: 10_000).failure([Asm.mov(.r0, 0), .jump(offset: -1), .exit])
        #expect(error == .instructionLimit(pc: 1, limit: 10_000))
    }

    /// Exactly `limit` instructions may run; one more is refused.
    @Test func theLimitIsExact() throws {
        let program: [Instruction] = [Asm.mov(.r0, 1), Asm.alu64(.add, .r0, 1), Asm.alu64(.add, .r0, 1), .exit]
        #expect(try Harness(instructionLimit: 4).run(program) == 3)
        #expect(try Harness(instructionLimit: 3).failure(program) == .instructionLimit(pc: 3, limit: 3))
    }

    /// The budget is per run, not per prepared program.
    @Test func eachRunHasItsOwnBudget() throws {
        let prepared = try Harness(instructionLimit: 4).prepare([Asm.mov(.r0, 1), Asm.alu64(.add, .r0, 1), Asm.alu64(.add, .r0, 1), .exit])
        for _ in 0..<3 { #expect(try Harness().run(prepared, memory: GuestMemory(count: 0)) == 3) }
    }

    @Test func invalidProgramsAreRejectedAtPrepare() throws {
        let programs: [[Instruction]] = [
            [.jump(offset: 5), .exit],                                      // jump outside
            [Asm.mov(.r0, 0)],                                              // falls off the end
            [Asm.lddw(.r0, 1), .jump(offset: -2), .exit],                   // jump into the second slot of lddw
            [.call(.local(offset: 7)), .exit],                              // call outside
            [Asm.mov(.r10, 0), .exit],                                      // writes r10
        ]
        for program in programs {
            #expect(throws: EngineError.self) {
                try Interpreter().prepare(Program(program), configuration: EngineConfiguration())
            }
        }
    }

    /// Map and variable references must be resolved by the runtime first.
    @Test func unresolvedImmediatesAreUnsupported() throws {
        for kind in [Immediate64.mapByFD(3), .mapValueByIndex(index: 0, offset: 8), .codeAddress(offset: 2), .variable(btfID: 1, btfFD: 2)] {
            // Slots: mov 0, lddw 1-2, exit 3, and a function at 4 for the code address to name.
            let error = try Harness().failure([Asm.mov(.r0, 0), .loadImmediate64(dst: .r1, kind), .exit, Asm.mov(.r0, 1), .exit])
            #expect(error?.pc == 1)
            if case .unsupported = error {} else { Issue.record("expected unsupported for \(kind), got \(String(describing: error))") }
        }
    }

    @Test func engineName() {
        #expect(Interpreter().name == "interpreter")
    }
}
