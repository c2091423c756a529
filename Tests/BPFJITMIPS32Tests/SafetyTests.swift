import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFRuntime
import BPFTestSuite
import Testing

/// Bad accesses stop with the interpreter's error (the checks every backend
/// shares: `SafetyChecks`; the image's own checks come before any CPU
/// exception the emulator would catch), in both byte orders.
@Suite struct SafetyTests {
    static func checks(bigEndian: Bool) -> SafetyChecks {
        SafetyChecks(engine: MIPS32JIT(bigEndian: bigEndian), reference: Interpreter(byteOrder: bigEndian ? .big : .little),
                     comparesAddresses: false)
    }

    @Test(arguments: [false, true]) func outOfBoundsAccessesReportLikeTheInterpreter(bigEndian: Bool) {
        Self.checks(bigEndian: bigEndian).outOfBoundsAccessesReportLikeTheInterpreter()
    }

    @Test(arguments: [false, true]) func stackBoundsMatchTheInterpreter(bigEndian: Bool) {
        Self.checks(bigEndian: bigEndian).stackBoundsMatchTheInterpreter()
    }
}

/// The MIPS32 JIT with a verifier's proofs (`TestProofs` for a program whose
/// facts the test knows): proven accesses lose their checks, proven
/// initialisation drops the clearing at entry, and results stay the same.
@Suite struct ProofTests {
    static let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let fnvSteps: UInt64 = 5 * 1_500 + 6

    static func run(_ program: Program, _ proofs: ProgramProofs?, bigEndian: Bool) throws -> (UInt64, JITImage) {
        let memory = GuestMemory(bytes: bytes)
        let emulated = try MIPS32JIT(bigEndian: bigEndian).emulate(program, configuration: EngineConfiguration(proofs: proofs))
        let value = try emulated.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
        return (value, emulated.image)
    }

    @Test(arguments: [false, true]) func fullProofsRemoveChecksAndClearing(bigEndian: Bool) throws {
        let program = SamplePrograms.fnv1a
        let (plainValue, plain) = try Self.run(program, nil, bigEndian: bigEndian)
        let (provenValue, proven) = try Self.run(program, TestProofs.full(program, maxInstructions: Self.fnvSteps), bigEndian: bigEndian)
        #expect(plainValue == SamplePrograms.fnv1a(Self.bytes) && provenValue == plainValue)
        #expect(plain.statistics.checkedAccesses == 1 && proven.statistics.checkedAccesses == 0)
        #expect(proven.size < plain.size, "\(proven.size) vs \(plain.size)")
        // Proofs of another program change nothing.
        var instructions = program.instructions
        instructions[8] = .alu(.w64, .or, dst: .r0, .register(.r5))
        let other = Program(instructions)
        let (_, otherPlain) = try Self.run(other, nil, bigEndian: bigEndian)
        let (_, otherProven) = try Self.run(other, TestProofs.full(program, maxInstructions: Self.fnvSteps), bigEndian: bigEndian)
        #expect(otherPlain.bytes.count == otherProven.bytes.count && otherPlain.statistics == otherProven.statistics)
    }
}
