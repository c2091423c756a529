import BPFBackendTestKit
import BPFEmulator
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import Testing

/// Seed 000's passes (size with indirect calls, decide each call at the
/// image's address, write) and branch ranges: conditional branches that do
/// not reach are rewritten as an inverted branch over a B, never truncated.
@Suite struct PassTests {
    static let identity = Helper(id: 1, name: "id", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) {
        $0.argument(1)
    }
    /// Two helper calls and a loop around them.
    static let calls: [Instruction] = [
        .mov64(.r6, 3), .mov64(.r1, 5), .call(.helper(1)), .alu(.w64, .add, dst: .r7, .register(.r0)),
        .mov64(.r1, .r7), .call(.helper(1)), .alu(.w64, .sub, dst: .r6, .immediate(1)),
        .branch(.w64, .ne, dst: .r6, .immediate(0), offset: -7), .mov64(.r0, .r7), .exit,
    ]

    @Test func nearImagesAreSizedThenDecidedThenWritten() throws {
        let program = try emulated(Self.calls, helpers: [Self.identity], engine: arm64(placement: .nearHelpers))
        // Pass 1 sizes every call indirect; pass 2, at the reserved address, makes
        // each a `bl`; pass 3 writes, the same size to the byte (checked).
        #expect(program.image.passes == 3)
        #expect(program.passSizes.count == 3)
        #expect(program.passSizes[0] > program.passSizes[1] && program.passSizes[1] == program.passSizes[2], "\(program.passSizes)")
        #expect(program.passSizes[2] == program.image.size)
        #expect(program.image.statistics.directCalls == 2 && program.image.statistics.indirectCalls == 0)
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == 15)
    }

    @Test func farImagesKeepTheSizedLayout() throws {
        let program = try emulated(Self.calls, helpers: [Self.identity], engine: arm64(placement: .farFromHelpers))
        // Out of `bl` range, the pass at the address repeats the sizing pass exactly: it is written.
        #expect(program.image.passes == 2)
        #expect(program.passSizes.count == 2 && program.passSizes[0] == program.passSizes[1], "\(program.passSizes)")
        #expect(program.image.statistics.directCalls == 0 && program.image.statistics.indirectCalls == 2)
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == 15)
    }

    @Test func eachCallDecidesForItselfAtAFixedAddress() throws {
        // The host routine just out of `bl` range of the first call and
        // within range of the second: one indirect call, one direct.
        let target: UInt64 = 0x4000_0000
        let targets = Arm64CallTargets(helpers: .hostRoutine(target), checkAccess: target + 16)
        let configuration = EngineConfiguration(helpers: HelperRegistry([Self.identity]))
        let far = try Arm64JIT.assemble(Program(Self.calls), configuration: configuration, at: 0x7000_0000_0000, targets: targets)
        #expect(far.statistics.indirectCalls == 2)
        let first = far.nativeRange(of: 2).lowerBound, second = far.nativeRange(of: 5).lowerBound
        let address = UInt(target - (1 << 27)) - UInt((first + second) / 2)
        let split = try Arm64JIT.assemble(Program(Self.calls), configuration: configuration, at: address, targets: targets)
        #expect(split.statistics.indirectCalls == 1 && split.statistics.directCalls == 1, "\(split.statistics)")
        #expect(split.passes == 2, "a known address: decide, then verify")
        let near = try Arm64JIT.assemble(Program(Self.calls), configuration: configuration, at: UInt(target) - 0x1000, targets: targets)
        #expect(near.statistics.directCalls == 2 && near.size < split.size && split.size < far.size)
    }

    @Test func positionIndependentCodeIsWrittenByItsSecondSizingPass() throws {
        let program = try emulated([.mov64(.r0, 7), .alu(.w64, .mul, dst: .r0, .immediate(6)), .exit])
        #expect(program.image.passes == 2 && program.passSizes.count == 2 && program.passSizes[0] == program.passSizes[1])
    }

    /// `count` checked stores of a constant: 44 bytes of code per slot when the image has a stack.
    static func bulk(_ count: Int) -> [Instruction] {
        [Instruction](repeating: .storeImmediate(.word, dst: .r2, offset: 4, imm: 0x1234_5678), count: count)
    }

    /// The code of `pc` ends in `b.<cond> .+8; b target` (the long form).
    static func endsInLongBranch(_ image: JITImage, pc: Int) -> Bool {
        let range = image.nativeRange(of: pc)
        let word = { (at: Int) in (0..<4).reduce(UInt32(0)) { $0 | UInt32(image.bytes[at + $1]) << (8 * UInt32($1)) } }
        let skip = word(range.upperBound - 8), jump = word(range.upperBound - 4)
        let testsABit = skip & 0x7e00_0000 == 0x3600_0000                       // TBZ/TBNZ: imm14, else imm19
        let skipsOne = (skip >> 5) & (testsABit ? 0x3fff : 0x7ffff) == 2        // over one instruction
        return skipsOne && jump & 0xfc00_0000 == 0x1400_0000                     // B imm26
    }

    @Test func conditionalBranchesBeyondTheirRangeAreRewritten() throws {
        let memory = [UInt8](repeating: 0, count: 16)
        // b.cond (imm19, ±1 MiB) and cbz (imm19) over 32,000 stores (about 1.4 MiB),
        // tbnz (imm14, ±32 KiB) over 1,000 (about 44 KiB); forward and backward.
        // r10 in a register makes the image reserve the BPF stack, so every check has its stack half.
        let frame = Instruction.mov64(.r3, .r10)
        let cases: [(String, [Instruction], Int)] = [
            ("b.cond", [frame, .branch(.w64, .gt, dst: .r1, .immediate(5), offset: 32_000)] + Self.bulk(32_000) + [.mov64(.r0, 1), .exit], 1),
            ("cbz", [frame, .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 32_000)] + Self.bulk(32_000) + [.mov64(.r0, 1), .exit], 1),
            ("tbnz", [frame, .branch(.w32, .set, dst: .r1, .immediate(4), offset: 1_000)] + Self.bulk(1_000) + [.mov64(.r0, 1), .exit], 1),
            ("b.cond backward", [frame, .mov64(.r0, 0)] + Self.bulk(30_000)
                + [.alu(.w64, .add, dst: .r0, .immediate(1)), .branch(.w64, .lt, dst: .r0, .immediate(2), offset: -30_002), .exit], 30_003),
        ]
        for (name, instructions, site) in cases {
            let program = try emulated(instructions, limit: 1_000_000)
            #expect(Self.endsInLongBranch(program.image, pc: site), "\(name): expected the long form at pc \(site)")
            #expect(program.image.passes <= 4, "\(name): \(program.image.passes) passes")
            for r1: UInt64 in [0, 1, 4, 6] {
                let both = { () -> (Outcome, Outcome) in
                    let bytes = memory
                    let input = GuestMemory(bytes: bytes)
                    func run(_ prepared: any PreparedProgram) -> Outcome {
                        input.write(bytes, at: 0)
                        do {
                            return .value(try prepared.run(RunInput(r1: r1, r2: input.address, regions: MemoryRegions([input.region(.input)]))))
                        } catch { return .failure(error) }
                    }
                    let reference = try? Interpreter().prepare(Program(instructions), configuration: EngineConfiguration(instructionLimit: 1_000_000))
                    return (run(program), reference.map(run) ?? .notPrepared("interpreter"))
                }()
                #expect(both.0 == both.1, "\(name), r1 = \(r1): jit \(both.0), interpreter \(both.1)")
            }
        }
        // Near branches keep the short form.
        let short = try emulated([.branch(.w64, .gt, dst: .r1, .immediate(5), offset: 1), .mov64(.r0, 1), .exit])
        #expect(!Self.endsInLongBranch(short.image, pc: 0) && short.image.nativeRange(of: 0).count == 8)
    }
}

import BPFInterpreter
