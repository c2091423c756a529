import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// The predecoder fuses `mov64 rd, rs; add64 rd, x` and `add64 rd, a; jne64
/// rd, b` into one dispatch. Whatever it fuses, a program must compute what
/// RFC 9669 says, stop at the same instruction limit, and keep the pair
/// apart where a jump lands between its halves. Expected values are worked
/// out by hand from the ISA's semantics, not from the interpreter.
@Suite struct SuperinstructionTests {
    private func mov(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    private func mov(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    private func add(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .add, dst: d, .register(s)) }
    private func add(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .add, dst: d, .immediate(imm)) }
    private func jne(_ d: Register, _ imm: Int32, _ offset: Int16) -> Instruction {
        .branch(.w64, .ne, dst: d, .immediate(imm), offset: offset)
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
    /// The jump lands on the add, so `mov r3, r1; add r3, 1` must stay two
    /// instructions; `add; jne` is fused. 2 + 5 × 2 + 2 = 14 instructions.
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
}
