import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The JIT with a verifier's proofs (`EngineConfiguration.proofs`, made here
/// by `TestProofs` for programs whose facts the test knows): proven accesses
/// are unchecked, a program proven to end in time has no runaway guard, and
/// proven register initialisation drops the clearing at entry. Results must
/// stay the interpreter's; proofs that do not fit change nothing.
@Suite struct ProofTests {
    static let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    /// FNV-1a over 1,500 bytes executes 5 instructions a byte and 6 more.
    static let fnvSteps: UInt64 = 5 * 1_500 + 6

    static func configuration(_ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) -> EngineConfiguration {
        EngineConfiguration(instructionLimit: limit, proofs: proofs)
    }

    /// Every instruction-selection pattern but loop-head alignment, for exact sizes.
    static let unaligned = JITOptions(instructionSelection: JITInstructionSelection.all.subtracting(.loopAlignment))

    static func image(_ program: Program, _ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                      options: JITOptions = JITOptions()) throws -> JITImage {
        try X86_64JIT.assemble(program, configuration: configuration(proofs, limit: limit), options: options, at: 0x1000_0000)
    }

    /// The image's instructions, one a line.
    static func listing(_ image: JITImage) -> String {
        guard let disassembler = try? NativeDisassembler(.x86_64) else { return "(no disassembler)" }
        return disassembler.disassemble(image.bytes, address: UInt64(image.address)).map(\.text).joined(separator: "\n")
    }

    static func run(_ program: Program, _ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> UInt64 {
        let memory = GuestMemory(bytes: bytes)
        let compiled = try X86_64JIT().compile(program, configuration: configuration(proofs, limit: limit))
        return try compiled.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
    }

    @Test func fullProofsRemoveChecksGuardAndContext() throws {
        let program = SamplePrograms.fnv1a
        #expect(TestProofs.writesBeforeReads(program))
        let proofs = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        let plain = try Self.image(program, nil), proven = try Self.image(program, proofs)
        #expect(plain.statistics.checkedAccesses == 1 && plain.statistics.guardCharges == 1 && plain.statistics.usesRunContext)
        #expect(proven.statistics.checkedAccesses == 0 && proven.statistics.guardCharges == 0)
        #expect(!proven.statistics.usesRunContext)
        #expect(proven.size < plain.size && proven.size <= plain.size / 2, "\(proven.size) vs \(plain.size)")
        // Without checks, guards or clearing: the body and a ret, no frame, no saves (52 bytes;
        // loop heads unaligned, since their padding depends on what precedes them).
        let unaligned = try Self.image(program, proofs, options: Self.unaligned)
        #expect(unaligned.size <= 52, "\(unaligned.size) bytes:\n\(Self.listing(unaligned))")
        #expect(try Self.run(program, proofs) == SamplePrograms.fnv1a(Self.bytes))
        #expect(try Self.run(program, nil) == SamplePrograms.fnv1a(Self.bytes))
        // Entered with no run context at all, through the fast path.
        let compiled = try X86_64JIT().compile(program, configuration: Self.configuration(proofs))
        #expect(!compiled.usesRunContext)
        let memory = GuestMemory(bytes: Self.bytes)
        #expect(try compiled.function(memory.address, UInt64(memory.count)) == SamplePrograms.fnv1a(Self.bytes))
    }

    @Test func proofsOfAnotherProgramAreIgnored() throws {
        let program = SamplePrograms.fnv1a
        var instructions = program.instructions
        instructions[8] = .alu(.w64, .or, dst: .r0, .register(.r5))          // r0 |= r5 instead of ^=
        let other = Program(instructions)
        let proofs = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        let plain = try Self.image(other, nil), misapplied = try Self.image(other, proofs)
        #expect(misapplied.statistics.checkedAccesses == 1 && misapplied.statistics.guardCharges == 1)
        #expect(misapplied.bytes == plain.bytes)
    }

    @Test func proofsWithoutTerminationKeepTheGuard() throws {
        let program = SamplePrograms.fnv1a
        let proofs = TestProofs.make(program, terminates: false, maxInstructions: 0, registersInitialized: true)
        let image = try Self.image(program, proofs)
        #expect(image.statistics.checkedAccesses == 0 && image.statistics.guardCharges == 1 && image.statistics.usesRunContext)
        // An endless loop whose accesses are proven safe still stops at the limit, like the interpreter.
        let endless = Program([.mov64(.r0, 0), .load(.byte, dst: .r2, src: .r1, offset: 0),
                               .alu(.w64, .add, dst: .r0, .register(.r2)), .jump(offset: -3), .exit])
        let endlessProofs = TestProofs.make(endless, terminates: false, maxInstructions: 0, registersInitialized: true)
        #expect(throws: ExecutionError.self) { try Self.run(endless, endlessProofs, limit: 1_000) }
        let interpreter = try Interpreter().prepare(endless, configuration: Self.configuration(nil, limit: 1_000))
        let memory = GuestMemory(bytes: Self.bytes)
        #expect(throws: ExecutionError.self) {
            try interpreter.run(RunInput(r1: memory.address, r2: 1, regions: MemoryRegions([memory.region(.input)])))
        }
    }

    @Test func aBoundAboveTheLimitKeepsTheGuard() throws {
        let program = SamplePrograms.fnv1a
        let proofs = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        let over = try Self.image(program, proofs, limit: Self.fnvSteps - 1)
        let at = try Self.image(program, proofs, limit: Self.fnvSteps)
        #expect(over.statistics.guardCharges == 1 && over.statistics.checkedAccesses == 0)
        #expect(at.statistics.guardCharges == 0)
        #expect(try Self.run(program, proofs, limit: Self.fnvSteps) == SamplePrograms.fnv1a(Self.bytes))
    }

    @Test func provenInitialisationDropsTheClearing() throws {
        let program = SamplePrograms.fnv1a
        let clearing = TestProofs.full(program, maxInstructions: Self.fnvSteps, registersInitialized: false)
        let initialized = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        let a = try Self.image(program, clearing, options: Self.unaligned)
        let b = try Self.image(program, initialized, options: Self.unaligned)
        // xor eax, eax; xor edx, edx; xor ecx, ecx; xor r8d, r8d (r0, r3, r4, r5: 2 + 2 + 2 + 3 bytes).
        #expect(a.size - b.size == 9, "\(a.size) vs \(b.size)")
        #expect(try Self.run(program, clearing) == SamplePrograms.fnv1a(Self.bytes))
    }

    /// A stack pointer that escapes into a register, used only by proven
    /// accesses: one frame, all of it, when there is no other frame; all
    /// frames with a local call or a helper call, which could use them.
    @Test func provenStackPointersSizeTheFrames() throws {
        func body(_ tail: [Instruction]) -> Program {
            Program([.mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-512)),
                     .storeImmediate(.double, dst: .r1, offset: 0, imm: 7), .storeImmediate(.double, dst: .r1, offset: 504, imm: 35),
                     .load(.double, dst: .r0, src: .r1, offset: 0), .load(.double, dst: .r2, src: .r1, offset: 504),
                     .alu(.w64, .add, dst: .r0, .register(.r2))] + tail)
        }
        let leaf = body([.exit])
        let proofs = TestProofs.full(leaf, maxInstructions: 8)
        let compiled = try X86_64JIT().compile(leaf, configuration: Self.configuration(proofs))
        #expect(compiled.stackSize == 512 && compiled.image.statistics.checkedAccesses == 0)
        #expect(try compiled.function() == 42)
        #expect(try X86_64JIT().compile(leaf, configuration: Self.configuration(nil)).stackSize == 8 * 512)
        let calling = body([.exit, .mov64(.r0, 1), .exit])
        var withCall = calling.instructions
        withCall.insert(.call(.local(offset: 1)), at: 7)
        let local = Program(withCall)
        let localProofs = TestProofs.full(local, maxInstructions: 16, registersInitialized: false)
        let localCompiled = try X86_64JIT().compile(local, configuration: Self.configuration(localProofs))
        #expect(localCompiled.stackSize == 8 * 512 && localCompiled.image.statistics.checkedAccesses == 0)
        #expect(try localCompiled.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == 1)
    }

    /// Direct `[r10 + offset]` accesses only: the BPF stack is what they reach.
    @Test func directStackAccessesReserveTheirDepth() throws {
        let program = Program([.storeImmediate(.double, dst: .r10, offset: -24, imm: 5),
                               .load(.double, dst: .r0, src: .r10, offset: -24), .load(.double, dst: .r1, src: .r10, offset: -8),
                               .alu(.w64, .add, dst: .r0, .register(.r1)), .exit])
        let compiled = try X86_64JIT().compile(program, configuration: Self.configuration(nil))
        #expect(compiled.stackSize == 32 && !compiled.usesRunContext)
        #expect(try compiled.function() == 5)
    }
}
