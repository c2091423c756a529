import BPFConformance
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFKit
import BPFLoader
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The arm64 JIT with a verifier's proofs (made by `TestProofs` for programs
/// whose facts the test knows), under the emulator: proven accesses are
/// unchecked, a program proven to end in time has no runaway guard (and,
/// without checks or calls, no run context), and proven register
/// initialisation drops the clearing at entry. Results stay the
/// interpreter's; proofs that do not fit change nothing.
@Suite struct ProofTests {
    static let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    /// FNV-1a over 1,500 bytes executes 5 instructions a byte and 6 more.
    static let fnvSteps: UInt64 = 5 * 1_500 + 6

    static func configuration(_ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) -> EngineConfiguration {
        EngineConfiguration(instructionLimit: limit, proofs: proofs)
    }

    static func image(_ program: Program, _ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> JITImage {
        try Arm64JIT.assemble(program, configuration: configuration(proofs, limit: limit), at: 0x10_0000_0000)
    }

    static func run(_ program: Program, _ proofs: ProgramProofs?, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> UInt64 {
        let memory = GuestMemory(bytes: bytes)
        let emulated = try arm64().emulate(program, configuration: configuration(proofs, limit: limit))
        return try emulated.execute(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                             regions: MemoryRegions([memory.region(.input)]))).value
    }

    @Test func fullProofsRemoveChecksGuardAndContext() throws {
        let program = SamplePrograms.fnv1a
        let proofs = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        let plain = try Self.image(program, nil), proven = try Self.image(program, proofs)
        #expect(plain.statistics.checkedAccesses == 1 && plain.statistics.guardCharges == 1 && plain.statistics.usesRunContext)
        #expect(proven.statistics.checkedAccesses == 0 && proven.statistics.guardCharges == 0 && !proven.statistics.usesRunContext)
        #expect(proven.size * 2 <= plain.size, "\(proven.size) vs \(plain.size)")
        let emulated = try arm64().emulate(program, configuration: Self.configuration(proofs))
        #expect(!emulated.usesRunContext)
        #expect(try Self.run(program, proofs) == SamplePrograms.fnv1a(Self.bytes))
    }

    @Test func proofsThatDoNotFitChangeNothingOrKeepTheGuard() throws {
        let program = SamplePrograms.fnv1a
        var instructions = program.instructions
        instructions[8] = .alu(.w64, .or, dst: .r0, .register(.r5))
        let other = Program(instructions)
        let proofs = TestProofs.full(program, maxInstructions: Self.fnvSteps)
        #expect(try Self.image(other, proofs).bytes == Self.image(other, nil).bytes)
        let endless = TestProofs.make(program, terminates: false, maxInstructions: 0, registersInitialized: true)
        let unended = try Self.image(program, endless)
        #expect(unended.statistics.guardCharges == 1 && unended.statistics.checkedAccesses == 0)
        let over = try Self.image(program, proofs, limit: Self.fnvSteps - 1)
        let at = try Self.image(program, proofs, limit: Self.fnvSteps)
        #expect(over.statistics.guardCharges == 1 && at.statistics.guardCharges == 0)
        // A loop proven safe but not to end still stops at the limit, like the interpreter.
        let loop = Program([.mov64(.r0, 0), .load(.byte, dst: .r2, src: .r1, offset: 0),
                            .alu(.w64, .add, dst: .r0, .register(.r2)), .jump(offset: -3), .exit])
        let loopProofs = TestProofs.make(loop, terminates: false, maxInstructions: 0, registersInitialized: true)
        #expect(throws: ExecutionError.self) { try Self.run(loop, loopProofs, limit: 1_000) }
        // Registers proven initialised: no `mov xN, #0` for r0, r3, r4, r5.
        let clearing = TestProofs.full(program, maxInstructions: Self.fnvSteps, registersInitialized: false)
        let cleared = try Self.image(program, clearing), uncleared = try Self.image(program, proofs)
        #expect(cleared.size - uncleared.size == 16)
        #expect(try Self.run(program, clearing) == SamplePrograms.fnv1a(Self.bytes))
    }

    /// An escaped stack pointer used only by proven accesses: one whole frame
    /// without calls, all frames with a local call.
    @Test func provenStackPointersSizeTheFrames() throws {
        let body: [Instruction] = [.mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-512)),
                                   .storeImmediate(.double, dst: .r1, offset: 0, imm: 7),
                                   .storeImmediate(.double, dst: .r1, offset: 504, imm: 35),
                                   .load(.double, dst: .r0, src: .r1, offset: 0), .load(.double, dst: .r2, src: .r1, offset: 504),
                                   .alu(.w64, .add, dst: .r0, .register(.r2))]
        let leaf = Program(body + [.exit])
        let leafProgram = try arm64().emulate(leaf, configuration: Self.configuration(TestProofs.full(leaf, maxInstructions: 8)))
        #expect(leafProgram.stackSize == 512 && leafProgram.image.statistics.checkedAccesses == 0)
        #expect(try leafProgram.execute(RunInput(r1: 0, regions: MemoryRegions())).value == 42)
        let local = Program(body + [.call(.local(offset: 1)), .exit, .mov64(.r0, 1), .exit])
        let localProofs = TestProofs.full(local, maxInstructions: 16, registersInitialized: false)
        let localProgram = try arm64().emulate(local, configuration: Self.configuration(localProofs))
        #expect(localProgram.stackSize == 8 * 512 && localProgram.image.statistics.checkedAccesses == 0)
        #expect(try localProgram.execute(RunInput(r1: 0, regions: MemoryRegions())).value == 1)
        // Direct accesses only: the stack is what they reach.
        let direct = Program([.storeImmediate(.double, dst: .r10, offset: -24, imm: 5), .load(.double, dst: .r0, src: .r10, offset: -24),
                              .load(.double, dst: .r1, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .register(.r1)), .exit])
        let directProgram = try arm64().emulate(direct, configuration: Self.configuration(nil))
        #expect(directProgram.stackSize == 32)
        #expect(try directProgram.execute(RunInput(r1: 0, regions: MemoryRegions())).value == 5)
    }

    /// The benchmark suite with full proofs (the facts the kernel's verifier
    /// established): no checks, no guards, and the interpreter's results.
    @Test(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the benchmark suite"))
    func benchProgramsWithProofs() throws {
        let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench")
        let packet = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 5, 220] + (0..<1_496).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        var report: [String] = []
        for (source, function) in [("int_loop.c", "int_loop"), ("checksum.c", "tcp_checksum"), ("fnv1a.c", "fnv1a"), ("crc32.c", "crc32"),
                                   ("sort.c", "sort64"), ("local_calls.c", "local_calls"), ("flow_lookup.c", "flow_lookup"),
                                   ("map_updates.c", "map_updates")] {
            func result(_ engine: some ExecutionEngine, proven: Bool) throws -> (UInt64, Int?) {
                let linked = try ProgramFile.load(path: suite.appendingPathComponent(source).path,
                                                  LoadRequest(programName: function, trace: { _ in })).linked
                var configuration = linked.engineConfiguration()
                if proven { configuration.proofs = TestProofs.full(linked.program) }
                let prepared = try engine.prepare(linked.program, configuration: configuration)
                let run = try linked.makeRun(input: packet)
                let size = proven ? try Arm64JIT.assemble(linked.program, configuration: configuration, at: 0x10_0000_0000).size : nil
                return (try prepared.run(run.input), size)
            }
            let reference = try result(Interpreter(), proven: false)
            let jit = try result(arm64(), proven: true)
            #expect(jit.0 == reference.0, "\(function)")
            report.append("\(function): \(jit.1 ?? 0) bytes proven")
        }
        print("arm64 with proofs: " + report.joined(separator: ", "))
    }
}
