import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

/// rel8/rel32 choice, convergence and the pass driver.
@Suite struct JumpSizingTests {
    static let filler = Instruction.alu(.w64, .add, dst: .r0, .immediate(1))   // add rax, 1: 4 bytes

    /// The length of the native jump lowered at `pc` and the displacement its
    /// rel8 form would have needed.
    static func jumpForm(_ image: JITImage, at pc: Int, target: Int) -> (length: Int, displacement: Int) {
        let range = image.nativeRange(of: pc)
        let bytes = Array(image.bytes[range])
        // The jump is the last instruction of the range: 2 bytes (rel8) or 5/6 (rel32).
        let last = bytes.count >= 2 && (bytes[bytes.count - 2] == 0xeb || (0x70...0x7f).contains(bytes[bytes.count - 2])) ? 2
            : bytes.count >= 6 && bytes[bytes.count - 6] == 0x0f ? 6 : 5
        return (last, Int(image.instructionOffsets[target]) - (range.upperBound - last + 2))
    }

    @Test func everyConditionAroundTheRel8Boundary() throws {
        var shortSeen = 0, longSeen = 0
        for condition in JumpCondition.allCases {
            for width in [Width.w64, .w32] {
                for n in 28...34 {   // 4-byte fillers: 112...136 bytes to jump over
                    // Forward: r0 = 0; if r1 cond 7 goto +n+1; n × (r0 += 1); r0 += 1000; exit
                    var forward: [Instruction] = [.mov64(.r0, 0), .mov64(.r1, 7),
                                                  .branch(width, condition, dst: .r1, .immediate(7), offset: Int16(n + 1))]
                    forward += Array(repeating: Self.filler, count: n) + [.alu(.w64, .add, dst: .r0, .immediate(1000)), .exit]
                    forward.insert(.mov64(.r0, 0), at: 3)
                    let both = bothEngines(forward)
                    #expect(both.jit == both.interpreter, "\(condition) \(width) forward \(n): \(both)")
                    let image = try X86_64JIT.assemble(Program(forward), at: 0x10000)
                    let form = Self.jumpForm(image, at: 2, target: 2 + 1 + n + 1)
                    let fits = Int(Int8.min)...Int(Int8.max) ~= form.displacement
                    #expect((form.length == 2) == fits, "\(condition) forward \(n): displacement \(form.displacement), length \(form.length)")
                    if fits { shortSeen += 1 } else { longSeen += 1 }

                    // Backward: loop twice over n fillers with r2 counting down.
                    var backward: [Instruction] = [.mov64(.r0, 0), .mov64(.r2, 2)]
                    backward += Array(repeating: Self.filler, count: n)
                    backward += [.alu(.w64, .sub, dst: .r2, .immediate(1)),
                                 .branch(width, .ne, dst: .r2, .immediate(0), offset: Int16(-(n + 2))), .exit]
                    let loop = bothEngines(backward)
                    #expect(loop.jit == loop.interpreter && loop.jit == .value(UInt64(2 * n)), "backward \(n): \(loop)")
                }
            }
        }
        #expect(shortSeen > 0 && longSeen > 0)
    }

    @Test func staggeredJumps() throws {
        // Jump i skips i instructions ahead into the middle of the next jumps' spans.
        var program: [Instruction] = [.mov64(.r0, 0)]
        let count = 200
        for i in 0..<count {
            program.append(.branch(.w64, .eq, dst: .r0, .immediate(Int32(i % 3 == 0 ? 0 : 1)), offset: Int16(i % 37 + 1)))
            program.append(Self.filler)
        }
        program += Array(repeating: Self.filler, count: 40) + [.exit]
        let both = bothEngines(program)
        #expect(both.jit == both.interpreter)
        let image = try X86_64JIT.assemble(Program(program), at: 0x10000)
        #expect(image.passes < JITDriver.maxPasses)
    }

    @Test func jumpsOverMoreThan32767Instructions() throws {
        let n = 32_767
        let forward: [Instruction] = [.mov64(.r0, 0), .jump(offset: Int16(n))] + Array(repeating: Self.filler, count: n)
            + [.alu(.w64, .add, dst: .r0, .immediate(100)), .exit]
        #expect(bothEngines(forward).jit == .value(100))
        let conditional: [Instruction] = [.mov64(.r0, 0), .branch(.w32, .eq, dst: .r0, .immediate(0), offset: Int16(n))]
            + Array(repeating: Self.filler, count: n) + [.exit]
        #expect(bothEngines(conditional).jit == .value(0))
        // gotol over 100,000 instructions, then back over all of them once.
        let m = 100_000
        var long: [Instruction] = [.mov64(.r0, 0), .mov64(.r2, 2), .jumpLong(offset: Int32(m))]
        long += Array(repeating: Self.filler, count: m)
        long += [.alu(.w64, .sub, dst: .r2, .immediate(1)),
                 .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 1),
                 .jumpLong(offset: Int32(-(m + 3))), .exit]
        let both = bothEngines(long, limit: 1_000_000)
        #expect(both.jit == both.interpreter && both.jit == .value(UInt64(m)), "\(both)")
    }

    @Test func longChainOfJa() throws {
        // 5,000 jumps, each to the next one two slots ahead, over a dead filler.
        var program: [Instruction] = [.mov64(.r0, 1)]
        for _ in 0..<5_000 { program += [.jump(offset: 1), .alu(.w64, .mov, dst: .r0, .immediate(99))] }
        program.append(.exit)
        #expect(bothEngines(program).jit == .value(1))
        // And a chain of jumps to the very next slot (no code at all).
        let nops: [Instruction] = [.mov64(.r0, 3)] + Array(repeating: .jump(offset: 0), count: 1_000) + [.exit]
        let image = try X86_64JIT.assemble(Program(nops), at: 0x10000)
        #expect(image.nativeRange(of: 500).isEmpty)
        #expect(bothEngines(nops).jit == .value(3))
    }

    @Test func jaToItselfIsStoppedByTheGuard() {
        let both = bothEngines([.jump(offset: -1), .exit], limit: 5_000)
        #expect(both.jit == .failure(.instructionLimit(pc: 0, limit: 5_000)))
        #expect(both.interpreter == .failure(.instructionLimit(pc: 0, limit: 5_000)))
    }

    @Test func jumpToInstructionZero() {
        // r0 += 1; if r0 < 10 goto 0; exit
        let program: [Instruction] = [.alu(.w64, .add, dst: .r0, .immediate(1)),
                                      .branch(.w64, .lt, dst: .r0, .immediate(10), offset: -2), .exit]
        let both = bothEngines(program)
        #expect(both.jit == .value(10) && both.interpreter == .value(10))
    }

    @Test func writingPassAgreesWithSizing() throws {
        // Compiled at two addresses, the layout is the same (no host calls) and every pass count is bounded.
        let program = Program([.mov64(.r0, 0)] + (0..<300).flatMap { i -> [Instruction] in
            [.branch(.w64, .gt, dst: .r0, .immediate(Int32(i)), offset: Int16(300 - i)), Self.filler]
        } + [.exit])
        let a = try X86_64JIT.assemble(program, at: 0x1000_0000)
        let b = try X86_64JIT.assemble(program, at: 0x7f00_0000_0000)
        #expect(a.instructionOffsets == b.instructionOffsets && a.bytes == b.bytes)
        #expect(a.passes <= JITDriver.paddingFromPass)
    }
}
