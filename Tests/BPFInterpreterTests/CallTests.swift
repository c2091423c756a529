import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// Local function calls (RFC 9669, section 4.3.2): frames, saved registers, depth.
@Suite struct CallTests {
    /// r1–r5 reach the callee, r0 comes back, and the caller's r6–r9 survive
    /// a callee that overwrites them (the shape of the corpus's call_local).
    @Test func argumentsResultAndCalleeSavedRegisters() throws {
        let program: [Instruction] = [
            Asm.mov(.r1, 1), Asm.mov(.r2, 2), Asm.mov(.r3, 3), Asm.mov(.r4, 4), Asm.mov(.r5, 5),
            Asm.mov(.r6, 6), Asm.mov(.r7, 7), Asm.mov(.r8, 8), Asm.mov(.r9, 9),
            .call(.local(offset: 11)),                              // 9 -> 21
            // r0 = r0 * 10000 + r6 * 1000 + r7 * 100 + r8 * 10 + r9
            Asm.alu64(.mul, .r0, 10), Asm.alu64(.add, .r0, .r6),     // 10, 11
            Asm.alu64(.mul, .r0, 10), Asm.alu64(.add, .r0, .r7),     // 12, 13
            Asm.alu64(.mul, .r0, 10), Asm.alu64(.add, .r0, .r8),     // 14, 15
            Asm.alu64(.mul, .r0, 10), Asm.alu64(.add, .r0, .r9),     // 16, 17
            Asm.alu64(.mul, .r0, 10), Asm.alu64(.add, .r0, .r5),     // 18, 19
            .exit,                                                   // 20
            // func: r0 = r1 + r2 + r3 + r4 + r5; clobber r6–r9 and r5.
            Asm.mov(.r0, .r1), Asm.alu64(.add, .r0, .r2), Asm.alu64(.add, .r0, .r3),
            Asm.alu64(.add, .r0, .r4), Asm.alu64(.add, .r0, .r5),
            Asm.mov(.r6, 0), Asm.mov(.r7, 0), Asm.mov(.r8, 0), Asm.mov(.r9, 0), Asm.mov(.r5, 0),
            .exit,
        ]
        // 15 from the callee, 6 7 8 9 restored, r5 as the callee left it (0).
        #expect(try run(program) == 1_567_890)
    }

    /// Each frame has its own 512 bytes: the callee's r10 is 512 below the
    /// caller's, and its stores at [r10-8] leave the caller's slot alone.
    @Test func framesAreDistinct() throws {
        let program: [Instruction] = [
            Asm.lddw(.r1, 0x1111), .store(.double, dst: .r10, offset: -8, src: .r1),   // 0-1, 2
            .call(.local(offset: 7)),                                                    // 3 -> 11
            Asm.mov(.r6, .r10), Asm.alu64(.sub, .r6, .r0),                              // 4, 5: r6 = 512
            .load(.double, dst: .r7, src: .r10, offset: -8),                            // 6: still 0x1111
            Asm.alu64(.lsh, .r6, 16), Asm.alu64(.or, .r6, .r7), Asm.mov(.r0, .r6),      // 7, 8, 9
            .exit,                                                                       // 10
            // callee: writes its own [r10-8], returns its r10.
            Asm.lddw(.r1, 0x2222), .store(.double, dst: .r10, offset: -8, src: .r1),   // 11-12, 13
            Asm.mov(.r0, .r10), .exit,                                                   // 14, 15
        ]
        #expect(try run(program) == (512 << 16 | 0x1111))
    }

    /// f(n) = n == 0 ? 0 : f(n - 1) + 1, entered from main: n + 2 frames in all.
    private func recursion(depth n: Int32) -> [Instruction] {
        [
            Asm.mov(.r1, n), .call(.local(offset: 1)), .exit,            // 0, 1 -> 3, 2
            Asm.mov(.r0, 0), Asm.jmp(.eq, .r1, 0, 3),                     // 3, 4 -> 8
            Asm.alu64(.sub, .r1, 1), .call(.local(offset: -4)),           // 5, 6 -> 3
            Asm.alu64(.add, .r0, 1),                                      // 7
            .exit,                                                        // 8
        ]
    }

    @Test func eightFramesAreAllowed() throws {
        // main + f(6) ... f(0) = 8 frames.
        #expect(try run(recursion(depth: 6)) == 6)
    }

    @Test func theNinthFrameIsRefused() throws {
        let error = try Harness().failure(recursion(depth: 7))
        #expect(error == .callDepthExceeded(pc: 6, limit: ExecutionLimits.maxCallFrames))
    }

    @Test func unboundedRecursionStopsAtTheDepthLimit() throws {
        let error = try Harness().failure([.call(.local(offset: -1)), .exit])
        #expect(error == .callDepthExceeded(pc: 0, limit: 8))
    }

    /// Recursion that stays shallow but never ends (each call returns, the
    /// caller loops) is stopped by the instruction limit instead.
    @Test func loopingCallsStopAtTheInstructionLimit() throws {
        let program: [Instruction] = [.call(.local(offset: 1)), .jump(offset: -2), Asm.mov(.r0, 1), .exit]
        let error = try Harness(instructionLimit: 1_000).failure(program)
        #expect(error?.pc != nil)
        guard case .instructionLimit(_, let limit) = error else {
            Issue.record("expected the instruction limit, got \(String(describing: error))")
            return
        }
        #expect(limit == 1_000)
    }

    /// Returning restores the caller's frame pointer even if the callee's
    /// stack use was deep; the caller's stack data is intact.
    @Test func nestedFramesRestoreFramePointers() throws {
        // main stores r10 in r6, calls a function that calls another; after
        // returning, r10 must equal r6 again.
        let program: [Instruction] = [
            Asm.mov(.r6, .r10), .call(.local(offset: 4)),                              // 0, 1 -> 6
            Asm.mov(.r0, .r10), Asm.alu64(.sub, .r0, .r6), Asm.alu64(.add, .r0, 7), .exit, // 2-5
            .call(.local(offset: 1)), .exit,                                          // 6 -> 8, 7
            Asm.mov(.r0, 99), .exit,                                                  // 8, 9
        ]
        #expect(try run(program) == 7)
    }
}
