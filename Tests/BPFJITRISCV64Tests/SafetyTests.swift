import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFRuntime
import BPFTestSuite
import Testing

/// Bad accesses stop with the interpreter's error (the checks every backend
/// shares: `SafetyChecks`): the image's own checks come before any CPU
/// exception the emulator would catch. Without the checks
/// (`MemoryChecking.unchecked`) a read just past the input returns a value.
@Suite struct SafetyTests {
    @Test(arguments: [false, true]) func outOfBoundsAccessesReportLikeTheInterpreter(compressed: Bool) {
        SafetyChecks(engine: RV64JIT(options: RV64Options(compressed: compressed))).outOfBoundsAccessesReportLikeTheInterpreter()
    }

    /// A read just past the input fails only because of the checks:
    /// unchecked, it reads the rest of the emulator's shadow page.
    @Test func uncheckedReadsPastTheInputAreNotStopped() {
        let unchecked = RV64JIT(options: RV64Options(memoryChecking: .unchecked))
        let program = Program([.load(.byte, dst: .r0, src: .r1, offset: 16), .exit])
        let outcome = BackendMatrix.outcome(program, memory: [UInt8](repeating: 0xab, count: 16), on: unchecked)
        guard case .value = outcome else {
            Issue.record("unchecked: \(outcome)")
            return
        }
    }

    @Test func stackBoundsMatchTheInterpreter() { SafetyChecks(engine: RV64JIT()).stackBoundsMatchTheInterpreter() }
}

/// The RISC-V JIT with a verifier's proofs (`TestProofs` for a program whose
/// facts the test knows): proven accesses lose their checks, proven
/// initialisation drops the clearing at entry, and results stay the same.
@Suite struct ProofTests {
    static let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let fnvSteps: UInt64 = 5 * 1_500 + 6

    static func run(_ program: Program, _ proofs: ProgramProofs?) throws -> (UInt64, JITImage) {
        let memory = GuestMemory(bytes: bytes)
        let emulated = try RV64JIT().emulate(program, configuration: EngineConfiguration(proofs: proofs))
        let value = try emulated.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
        return (value, emulated.image)
    }

    @Test func fullProofsRemoveChecksAndClearing() throws {
        let program = SamplePrograms.fnv1a
        let (plainValue, plain) = try Self.run(program, nil)
        let (provenValue, proven) = try Self.run(program, TestProofs.full(program, maxInstructions: Self.fnvSteps))
        #expect(plainValue == SamplePrograms.fnv1a(Self.bytes) && provenValue == plainValue)
        #expect(plain.statistics.checkedAccesses == 1 && proven.statistics.checkedAccesses == 0)
        #expect(plain.statistics.guardCharges > 0 && proven.statistics.guardCharges == 0)
        #expect(proven.size < plain.size, "\(proven.size) vs \(plain.size)")
        // Proofs of another program change nothing.
        var instructions = program.instructions
        instructions[8] = .alu(.w64, .or, dst: .r0, .register(.r5))
        let other = Program(instructions)
        let (_, otherPlain) = try Self.run(other, nil)
        let (_, otherProven) = try Self.run(other, TestProofs.full(program, maxInstructions: Self.fnvSteps))
        #expect(otherPlain.bytes.count == otherProven.bytes.count && otherPlain.statistics == otherProven.statistics)
    }
}
