import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// Helper calls by number and through a register (callx).
@Suite struct HelperTests {
    /// Packs r1–r5 into one value so the test can see each argument arrived.
    static let pack = Helper(id: 1, name: "pack", prototype: HelperPrototype(Array(repeating: .scalar(bits: 64), count: 5), returns: .scalar(bits: 64))) {
        call in
        call.argument(1) << 32 | call.argument(2) << 24 | call.argument(3) << 16 | call.argument(4) << 8 | call.argument(5)
    }

    /// Reads the 8 bytes r1 points to, through the checked helper memory.
    static let peek = Helper(id: 2, name: "peek", prototype: HelperPrototype([.pointer(readOnly: true)], returns: .scalar(bits: 64))) {
        call throws(HelperError) in
        try call.memory.load(UInt64.self, at: call.argument(1))
    }

    static let fail = Helper(id: 3, name: "fail", prototype: HelperPrototype([], returns: .void)) { _ throws(HelperError) in
        throw HelperError("no such thing")
    }

    var harness: Harness { Harness(helpers: HelperRegistry([Self.pack, Self.peek, Self.fail])) }

    @Test func argumentsArriveAndTheResultLandsInR0() throws {
        let program: [Instruction] = [
            Asm.mov(.r1, 0x11), Asm.mov(.r2, 0x22), Asm.mov(.r3, 0x33), Asm.mov(.r4, 0x44), Asm.mov(.r5, 0x55),
            .call(.helper(1)),
            // r1–r5 are left as they were (documented): fold r1 and r5 into the result.
            Asm.alu64(.add, .r0, .r1), Asm.alu64(.add, .r0, .r5),
            .exit,
        ]
        #expect(try harness.run(program) == 0x11_2233_4455 + 0x11 + 0x55)
    }

    /// A helper may read the program's stack (maps take keys that live there).
    @Test func helpersSeeTheStack() throws {
        let program: [Instruction] = [
            Asm.lddw(.r1, 0x0123_4567_89ab_cdef), .store(.double, dst: .r10, offset: -16, src: .r1),
            Asm.mov(.r1, .r10), Asm.alu64(.add, .r1, -16),
            .call(.helper(2)), .exit,
        ]
        #expect(try harness.run(program) == 0x0123_4567_89ab_cdef)
    }

    @Test func helperMemoryIsChecked() throws {
        let program: [Instruction] = [Asm.lddw(.r1, 0xdead_beef), .call(.helper(2)), .exit]
        let error = try harness.failure(program)
        guard case .helperFailed(let pc, let id, _) = error else {
            Issue.record("expected a helper failure, got \(String(describing: error))")
            return
        }
        #expect(pc == 2 && id == 2)
    }

    @Test func helperErrorsNameTheCall() throws {
        let error = try harness.failure([Asm.mov(.r0, 0), .call(.helper(3)), .exit])
        #expect(error == .helperFailed(pc: 1, id: 3, message: "no such thing"))
    }

    @Test func unknownHelpersFailWhenReached() throws {
        // Preparing succeeds; the run fails only if the call executes.
        #expect(try harness.run([Asm.mov(.r0, 4), .jump(offset: 1), .call(.helper(77)), .exit]) == 4)
        #expect(try harness.failure([Asm.mov(.r0, 0), .call(.helper(77)), .exit]) == .unknownHelper(pc: 1, id: 77))
    }

    /// `call %reg` calls the helper whose number the register holds.
    @Test func callThroughRegister() throws {
        let program: [Instruction] = [
            Asm.mov(.r1, 1), Asm.mov(.r2, 2), Asm.mov(.r3, 3), Asm.mov(.r4, 4), Asm.mov(.r5, 5),
            Asm.mov(.r7, 1), .call(.register(.r7)), .exit,
        ]
        #expect(try harness.run(program) == 0x1_0203_0405)
        #expect(try harness.failure([Asm.mov(.r7, 9), .call(.register(.r7)), .exit]) == .unknownHelper(pc: 1, id: 9))
        // A value that is no 32-bit number is not truncated into helper 1.
        let wide = try harness.failure([Asm.lddw(.r7, 0x1_0000_0001), .call(.register(.r7)), .exit])
        #expect(wide?.pc == 2)
        if case .unsupported = wide {} else { Issue.record("expected unsupported, got \(String(describing: wide))") }
    }

    /// Kernel functions (kfuncs) are not served by this engine.
    @Test func kfuncCallsAreUnsupported() throws {
        let error = try harness.failure([.call(.kfunc(btfID: 5)), .exit])
        #expect(error?.pc == 0)
        guard case .unsupported = error else {
            Issue.record("expected unsupported, got \(String(describing: error))")
            return
        }
    }
}
