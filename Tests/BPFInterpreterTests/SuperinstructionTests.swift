import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// The predecoder fuses `mov64 rd, rs; add64 rd, x`, `add64 rd, a; jne64
/// rd, b` and the bounds check `mov64 rd, rs; add64 rd, imm; jgt64 rd, rt`
/// into one dispatch. Whatever it fuses, a program must compute what
/// RFC 9669 says, stop at the same instruction limit, and run the rest of a
/// sequence unfused where a jump lands inside it. Expected values are worked
/// out by hand from the ISA's semantics, not from the interpreter.
@Suite struct SuperinstructionTests {
    private func mov(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    private func mov(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    private func add(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .add, dst: d, .register(s)) }
    private func add(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .add, dst: d, .immediate(imm)) }
    private func jne(_ d: Register, _ imm: Int32, _ offset: Int16) -> Instruction {
        .branch(.w64, .ne, dst: d, .immediate(imm), offset: offset)
    }

    private func jgt(_ d: Register, _ s: Register, _ offset: Int16) -> Instruction {
        .branch(.w64, .gt, dst: d, .register(s), offset: offset)
    }

    /// r3 = r1 + r2, then r0 = r3: six instructions.
    private var threeAddress: [Instruction] {
        [mov(.r1, 5), mov(.r2, 7), mov(.r3, .r1), add(.r3, .r2), mov(.r0, .r3), .exit]
    }

    /// The error a run of `program` with a budget of `limit` instructions stops with.
    private func stop(_ program: [Instruction], limit: UInt64) throws -> ExecutionError? {
        try Harness(instructionLimit: limit).failure(program)
    }

    @Test func registerPairAddsAndCountsBothInstructions() throws {
        #expect(try Harness(instructionLimit: 6).run(threeAddress) == 12)
        // Three instructions run (the mov of the pair is the third): the add at slot 3 is refused.
        #expect(try stop(threeAddress, limit: 3) == .instructionLimit(pc: 3, limit: 3))
        #expect(try stop(threeAddress, limit: 2) == .instructionLimit(pc: 2, limit: 2))
        #expect(try stop(threeAddress, limit: 5) == .instructionLimit(pc: 5, limit: 5))
    }

    @Test func addingTheDestinationToItselfDoublesTheSource() throws {
        // mov r3, r1; add r3, r3 is 2 * r1, not r1 + the old r3.
        #expect(try Harness().run([mov(.r1, 5), mov(.r3, 100), mov(.r3, .r1), add(.r3, .r3), mov(.r0, .r3), .exit]) == 10)
    }

    @Test func immediatePairSignExtends() throws {
        #expect(try Harness().run([mov(.r1, 5), mov(.r0, .r1), add(.r0, -3), .exit]) == 2)
        #expect(try Harness().run([mov(.r1, 1), mov(.r0, .r1), add(.r0, -3), .exit]) == UInt64(bitPattern: -2))
    }

    /// mov r1, 5; mov r3, r1; L: add r3, 1; jne r3, 10, L; mov r0, r3; exit.
    /// The jump lands on the add, the head of the fused `add; jne`, inside the
    /// fused `mov r3, r1; add r3, 1`. 2 + 5 × 2 + 2 = 14 instructions.
    private var countingLoop: [Instruction] {
        [mov(.r1, 5), mov(.r3, .r1), add(.r3, 1), jne(.r3, 10, -2), mov(.r0, .r3), .exit]
    }

    @Test func loopStepAndTestRunsLikeTheUnfusedPair() throws {
        #expect(try Harness(instructionLimit: 14).run(countingLoop) == 10)
        #expect(try stop(countingLoop, limit: 13) == .instructionLimit(pc: 5, limit: 13))
        // Stopped between the add and its test, on the first and on the last round.
        #expect(try stop(countingLoop, limit: 3) == .instructionLimit(pc: 3, limit: 3))
        #expect(try stop(countingLoop, limit: 11) == .instructionLimit(pc: 3, limit: 11))
    }

    @Test func loopStepWithNegativeImmediates() throws {
        // r3 counts 0, -1, ..., -5; r0 = -5 as a 64-bit value.
        let program = [mov(.r3, 0), add(.r3, -1), jne(.r3, -5, -2), mov(.r0, .r3), .exit]
        #expect(try Harness().run(program) == UInt64(bitPattern: -5))
    }

    /// A packet bounds check, `if (data + n > end) return 2; return 1;` with
    /// data = 10: slots 2–4 are the fused triple.
    private func boundsCheck(n: Int32, end: Int32) -> [Instruction] {
        [mov(.r1, 10), mov(.r4, end), mov(.r2, .r1), add(.r2, n), jgt(.r2, .r4, 2),
         mov(.r0, 1), .exit, mov(.r0, 2), .exit]
    }

    @Test func boundsCheckComparesUnsignedAfterTheAdd() throws {
        #expect(try Harness().run(boundsCheck(n: 4, end: 13)) == 2)   // 14 > 13
        #expect(try Harness().run(boundsCheck(n: 4, end: 14)) == 1)   // 14 > 14 is false
        // 10 - 20 wraps to 2^64 - 10, above any end.
        #expect(try Harness().run(boundsCheck(n: -20, end: 100)) == 2)
        // The result stays in rd: r0 = r2 after the check.
        let keeps = [mov(.r1, 10), mov(.r4, 99), mov(.r2, .r1), add(.r2, 4), jgt(.r2, .r4, 0), mov(.r0, .r2), .exit]
        #expect(try Harness().run(keeps) == 14)
        // jgt rd, rd is never taken.
        let itself = [mov(.r1, 10), mov(.r2, .r1), add(.r2, 4), jgt(.r2, .r2, 1), mov(.r0, .r2), .exit]
        #expect(try Harness().run(itself) == 14)
    }

    @Test func boundsCheckStopsBetweenItsThreeInstructions() throws {
        let taken = boundsCheck(n: 4, end: 13), fallsThrough = boundsCheck(n: 4, end: 14)
        #expect(try stop(taken, limit: 2) == .instructionLimit(pc: 2, limit: 2))
        #expect(try stop(taken, limit: 3) == .instructionLimit(pc: 3, limit: 3))
        #expect(try stop(taken, limit: 4) == .instructionLimit(pc: 4, limit: 4))
        #expect(try stop(taken, limit: 5) == .instructionLimit(pc: 7, limit: 5))
        #expect(try stop(fallsThrough, limit: 5) == .instructionLimit(pc: 5, limit: 5))
        #expect(try Harness(instructionLimit: 7).run(taken) == 2)
        #expect(try Harness(instructionLimit: 7).run(fallsThrough) == 1)
    }

    @Test func aJumpIntoTheBoundsCheckRunsItsRemainder() throws {
        // r1 = 10; r2 = 100; if r1 != 0 goto add (slot 4): the add starts
        // from r2 = 100, not from r1, so the jgt (104 > 50) is taken.
        let intoAdd = [mov(.r1, 10), mov(.r4, 50), mov(.r2, 100), jne(.r1, 0, 1),
                       mov(.r2, .r1), add(.r2, 4), jgt(.r2, .r4, 2), mov(.r0, 1), .exit, mov(.r0, 2), .exit]
        // Slot 3 jumps to slot 5 (the add).
        var program = intoAdd
        program[3] = jne(.r1, 0, 1)
        #expect(try Harness().run(program) == 2)
        // Into the jgt: r2 = 100 skips the mov and the add entirely.
        var intoJgt = intoAdd
        intoJgt[3] = jne(.r1, 0, 2)
        #expect(try Harness().run(intoJgt) == 2)
        // Falling through instead runs the whole check: 14 > 50 is false.
        var through = intoAdd
        through[0] = mov(.r1, 0)
        through[2] = mov(.r2, 0)
        #expect(try Harness().run(through) == 1)
    }
}
