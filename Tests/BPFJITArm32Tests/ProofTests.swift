import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import BPFTestSuite
import Testing

/// The arm32 JIT with a verifier's proofs (made by `TestProofs`): proven
/// accesses lose their checks, proven register initialisation drops the
/// clearing at entry, proven stack reads drop the stack clear; results stay
/// the interpreter's.
@Suite struct ProofTests {
    static let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    static func emulate(_ program: Program, _ proofs: ProgramProofs?) throws -> Arm32EmulatedProgram {
        try arm32().emulate(program, configuration: EngineConfiguration(proofs: proofs))
    }

    static func run(_ prepared: Arm32EmulatedProgram) throws -> EmulatedRunValue {
        let memory = GuestMemory(bytes: bytes)
        let run = try prepared.execute(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
        return EmulatedRunValue(value: run.value, instructions: run.instructionCount)
    }

    struct EmulatedRunValue { let value: UInt64, instructions: UInt64 }

    @Test func provenAccessesAreUncheckedAndRegistersNotCleared() throws {
        let program = SamplePrograms.fnv1a
        let plain = try Self.emulate(program, nil)
        let proven = try Self.emulate(program, TestProofs.full(program, maxInstructions: 5 * 1_500 + 6))
        #expect(plain.image.statistics.checkedAccesses == 1 && proven.image.statistics.checkedAccesses == 0)
        #expect(proven.image.size < plain.image.size)
        let (a, b) = (try Self.run(plain), try Self.run(proven))
        #expect(a.value == SamplePrograms.fnv1a(Self.bytes) && b.value == a.value)
        // The check's call sequence per byte is gone (the trampoline's work is not counted).
        #expect(b.instructions + 10 * 1_500 <= a.instructions, "\(b.instructions) vs \(a.instructions) native instructions")
    }

    @Test func provenStackReadsSkipTheClear() throws {
        let program = Program([.storeImmediate(.double, dst: .r10, offset: -64, imm: 5),
                               .load(.double, dst: .r0, src: .r10, offset: -64), .exit])
        let cleared = try Self.emulate(program, TestProofs.full(program))
        let uncleared = try Self.emulate(program, TestProofs.full(program, stackReadsInitialized: true))
        #expect(cleared.image.statistics.clearedStackBytes == 64)
        #expect(uncleared.image.statistics.clearedStackBytes == 0)
        #expect(try Self.run(uncleared).value == 5)
    }
}
