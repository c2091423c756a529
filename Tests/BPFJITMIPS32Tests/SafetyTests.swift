import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFRuntime
import BPFTestSuite
import Testing

/// Bad accesses stop with the interpreter's error (the image's own checks
/// come before any CPU exception the emulator would catch), in both byte orders.
@Suite struct SafetyTests {
    @Test(arguments: [false, true]) func outOfBoundsAccessesReportLikeTheInterpreter(bigEndian: Bool) {
        let input = [UInt8](repeating: 0xab, count: 16)
        var programs: [[Instruction]] = []
        for size in AccessSize.allCases {
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes + 1)), .exit])
            programs.append([.load(size, dst: .r0, src: .r1, offset: -1), .exit])
            programs.append([.store(size, dst: .r1, offset: 16, src: .r1), .exit])
            programs.append([.storeImmediate(size, dst: .r1, offset: -8, imm: 1), .exit])
            programs.append([.loadSignExtend(size == .double ? .word : size, dst: .r0, src: .r1, offset: 100), .exit])
            // In bounds and unaligned, as a control.
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes)), .exit])
            programs.append([.ld64(.r2, 0x0102_0304_0506_0708), .store(size, dst: .r1, offset: 1, src: .r2),
                             .load(size, dst: .r0, src: .r1, offset: 1), .exit])
        }
        for width in [Width.w32, .w64] {
            for operation in AtomicOperation.all {
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 16, src: .r2), .exit])
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 1, src: .r2), .exit])
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 8, src: .r2),
                                 .load(.double, dst: .r0, src: .r1, offset: 8), .alu(.w64, .add, dst: .r0, .register(.r2)), .exit])
            }
        }
        programs.append([.mov64(.r1, 0), .load(.double, dst: .r0, src: .r1, offset: 0), .exit])
        programs.append([.ld64(.r1, 0xdead_beef_0000), .store(.word, dst: .r1, offset: 0, src: .r1), .exit])
        for program in programs {
            let both = bothEngines(program, memory: input, bigEndian: bigEndian)
            #expect(Self.comparable(both.jit) == Self.comparable(both.interpreter), "\(program): \(both)")
        }
    }

    /// An outcome without the address of a failed access: the 32-bit core
    /// sees guest addresses, which map back to host addresses only inside a
    /// window of the run's memory. The pc, size and direction must agree.
    static func comparable(_ outcome: Outcome) -> String {
        switch outcome {
        case .failure(.outOfBounds(let pc, _, let size, let write)): "out of bounds at \(pc), \(size) bytes, write \(write)"
        case .failure(.unsupported(let pc, let what)) where what.contains("unaligned"): "unaligned atomic at \(pc)"
        default: outcome.description
        }
    }

    @Test func stackBoundsMatchTheInterpreter() {
        let cases: [(Int16, Bool)] = [(0, false), (-8, true), (-512, true), (-520, true), (-4096, true), (-4097, false), (8, false)]
        for (offset, inside) in cases {
            let program: [Instruction] = [.mov64(.r2, .r10), .alu(.w64, .add, dst: .r2, .immediate(Int32(offset))),
                                          .load(.double, dst: .r0, src: .r2, offset: 0), .exit]
            let both = bothEngines(program)
            if inside {
                #expect(both.jit == .value(0) && both.interpreter == .value(0))
            } else {
                // Stack addresses differ between engines; the pc, size and direction must not.
                guard case .failure(.outOfBounds(let pc, _, let size, let write)) = both.jit,
                      case .failure(.outOfBounds(pc, _, size, write)) = both.interpreter else {
                    Issue.record("offset \(offset): \(both)")
                    continue
                }
            }
        }
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
