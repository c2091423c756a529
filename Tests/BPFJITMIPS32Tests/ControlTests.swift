import BPFBackendTestKit
import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// Control flow and calls the corpus does not reach.
@Suite struct ControlTests {
    /// A conditional jump and an unconditional one over ~160 KiB of code:
    /// beyond BEQ/BNE's ±128 KiB, so both take the long form, taken and not.
    @Test(arguments: [false, true]) func longBranches(bigEndian: Bool) {
        let filler = 20_000
        for start: Int32 in [0, 1] {
            var program: [Instruction] = [.mov64(.r0, 7), .mov64(.r2, start)]
            program.append(.branch(.w64, .eq, dst: .r2, .immediate(1), offset: Int16(clamping: filler + 2)))
            program += Array(repeating: .mov64(.r0, 0x1234_5678), count: filler)
            program.append(.jump(offset: 1))
            program.append(.mov64(.r0, 99))
            program.append(.alu(.w64, .add, dst: .r0, .immediate(1)))
            program.append(.exit)
            let (jit, interpreter) = bothEngines(program, bigEndian: bigEndian)
            #expect(jit == interpreter, "start \(start): jit \(jit), interpreter \(interpreter)")
            #expect(jit == .value(start == 1 ? 8 : 0x1234_5679))
        }
    }

    /// A helper whose prototype mixes 32- and 64-bit arguments: O32 puts the
    /// first word in a0, skips a1 to put the 64-bit second in a2:a3 (memory
    /// order), and the rest on the stack at 16, 24 (aligned) and 32.
    static let mixed = Helper(id: 7, name: "mixed", prototype: HelperPrototype(
        [.scalar(bits: 32), .scalar(bits: 64), .scalar(bits: 32), .scalar(bits: 64), .scalar(bits: 32)],
        returns: .scalar(bits: 64))) { call in
        // Arguments arrive as the helper sees them; mix them so any swap shows.
        call.arguments.0 &* 3 &+ call.arguments.1 &* 5 &+ call.arguments.2 &* 7 &+ call.arguments.3 &* 11 &+ call.arguments.4 &* 13
    }

    static let word = Helper(id: 8, name: "word", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 32))) { call in
        (call.arguments.0 >> 8) & 0xffff_ffff
    }

    @Test(arguments: [false, true]) func helperArgumentsByPrototype(bigEndian: Bool) {
        let program: [Instruction] = [
            .ld64(.r1, 0x0000_0000_8765_4321), .ld64(.r2, 0x1111_2222_3333_4444), .ld64(.r3, 0x0000_0000_0bad_cafe),
            .ld64(.r4, 0x5555_6666_7777_8888), .ld64(.r5, 0x0000_0000_1357_9bdf),
            .call(.helper(7)),
            .mov64(.r6, .r0),
            .ld64(.r1, 0xffee_ddcc_bbaa_9988),
            .call(.helper(8)),
            .alu(.w64, .xor, dst: .r0, .register(.r6)),
            .exit,
        ]
        let (jit, interpreter) = bothEngines(program, helpers: [Self.mixed, Self.word], bigEndian: bigEndian)
        #expect(jit == interpreter)
        let first: UInt64 = 0x8765_4321 &* 3 &+ 0x1111_2222_3333_4444 &* 5 &+ 0x0bad_cafe &* 7 &+ 0x5555_6666_7777_8888 &* 11 &+ 0x1357_9bdf &* 13
        #expect(jit == .value(first ^ 0xccbb_aa99))
    }

    /// Local calls keep r6–r9 and the frame across calls, nest, and the
    /// ninth frame stops the run as on the interpreter.
    @Test(arguments: [false, true]) func localCalls(bigEndian: Bool) {
        let program: [Instruction] = [
            .ld64(.r6, 0x0102_0304_0506_0708),
            .mov64(.r1, 5),
            .store(.double, dst: .r10, offset: -8, src: .r6),
            .call(.local(offset: 4)),
            .load(.double, dst: .r2, src: .r10, offset: -8),
            .alu(.w64, .add, dst: .r0, .register(.r6)),
            .alu(.w64, .add, dst: .r0, .register(.r2)),
            .exit,
            // f(r1): r6 = r1 * 3 on its own frame; returns r6 + 1
            .alu(.w64, .mov, dst: .r6, .register(.r1)),
            .alu(.w64, .mul, dst: .r6, .immediate(3)),
            .store(.double, dst: .r10, offset: -8, src: .r6),
            .load(.double, dst: .r0, src: .r10, offset: -8),
            .alu(.w64, .add, dst: .r0, .immediate(1)),
            .exit,
        ]
        let (jit, interpreter) = bothEngines(program, bigEndian: bigEndian)
        #expect(jit == interpreter)
        #expect(jit == .value(16 &+ 0x0102_0304_0506_0708 &* 2))
        // Unbounded recursion: the depth limit.
        let recursive: [Instruction] = [.call(.local(offset: -1)), .exit]
        let (deep, reference) = bothEngines(recursive, bigEndian: bigEndian)
        #expect(deep == reference, "jit \(deep), interpreter \(reference)")
        #expect(deep == .failure(.callDepthExceeded(pc: 0, limit: ExecutionLimits.maxCallFrames)))
    }
}
