import BPFISA
import BPFInterpreter
import BPFRuntime
import Testing

/// The corners of RFC 9669 arithmetic, each with its expected value written
/// out by hand.
@Suite struct ArithmeticCornerTests {
    /// r1 = a, r2 = b, `op`, r0 = r1.
    private func binary(_ width: Width, _ op: ALUOperation, _ a: UInt64, _ b: UInt64) throws -> UInt64 {
        try run([Asm.lddw(.r1, a), Asm.lddw(.r2, b), .alu(width, op, dst: .r1, .register(.r2)), Asm.mov(.r0, .r1), .exit])
    }

    private func immediate(_ width: Width, _ op: ALUOperation, _ a: UInt64, _ imm: Int32) throws -> UInt64 {
        try run([Asm.lddw(.r1, a), .alu(width, op, dst: .r1, .immediate(imm)), Asm.mov(.r0, .r1), .exit])
    }

    @Test func divisionByZeroGivesZero() throws {
        #expect(try binary(.w64, .div, 12345, 0) == 0)
        #expect(try immediate(.w64, .div, 12345, 0) == 0)
        #expect(try binary(.w32, .div, 12345, 0) == 0)
        #expect(try binary(.w64, .sdiv, 0x8000_0000_0000_0000, 0) == 0)
        #expect(try binary(.w32, .sdiv, 0xffff_ffff, 0) == 0)
        // A 32-bit divisor is zero when its low half is, whatever the high half holds.
        #expect(try binary(.w32, .div, 12345, 0x7_0000_0000) == 0)
    }

    @Test func moduloByZeroLeavesTheDividend() throws {
        #expect(try binary(.w64, .mod, 0xdead_beef_1234_5678, 0) == 0xdead_beef_1234_5678)
        #expect(try immediate(.w64, .mod, 0xdead_beef_1234_5678, 0) == 0xdead_beef_1234_5678)
        #expect(try binary(.w64, .smod, 0x8000_0000_0000_0001, 0) == 0x8000_0000_0000_0001)
        // 32-bit: the low 32 bits, zero-extended.
        #expect(try binary(.w32, .mod, 0xdead_beef_1234_5678, 0) == 0x1234_5678)
        #expect(try binary(.w32, .smod, 0xdead_beef_8765_4321, 0) == 0x8765_4321)
        #expect(try immediate(.w32, .mod, 0xffff_ffff_ffff_ffff, 0) == 0xffff_ffff)
    }

    @Test func signedDivisionOverflowDoesNotTrap() throws {
        // INT64_MIN / -1 = INT64_MIN, INT64_MIN % -1 = 0.
        #expect(try binary(.w64, .sdiv, 0x8000_0000_0000_0000, .max) == 0x8000_0000_0000_0000)
        #expect(try immediate(.w64, .sdiv, 0x8000_0000_0000_0000, -1) == 0x8000_0000_0000_0000)
        #expect(try binary(.w64, .smod, 0x8000_0000_0000_0000, .max) == 0)
        #expect(try immediate(.w64, .smod, 0x8000_0000_0000_0000, -1) == 0)
        // INT32_MIN / -1 = INT32_MIN (zero-extended), INT32_MIN % -1 = 0.
        #expect(try binary(.w32, .sdiv, 0x8000_0000, 0xffff_ffff) == 0x8000_0000)
        #expect(try immediate(.w32, .sdiv, 0xffff_ffff_8000_0000, -1) == 0x8000_0000)
        #expect(try binary(.w32, .smod, 0x8000_0000, 0xffff_ffff) == 0)
    }

    @Test func signedDivisionTruncatesTowardZero() throws {
        #expect(try immediate(.w64, .sdiv, UInt64(bitPattern: -7), 2) == UInt64(bitPattern: -3))
        #expect(try immediate(.w64, .smod, UInt64(bitPattern: -7), 2) == UInt64(bitPattern: -1))
        #expect(try immediate(.w64, .smod, 7, -2) == 1)
        #expect(try immediate(.w32, .sdiv, 0xffff_fff9, 2) == 0xffff_fffd)
        // Unsigned division by an ALU64 immediate of -1 divides by 2^64 - 1.
        #expect(try immediate(.w64, .div, 5, -1) == 0)
        #expect(try immediate(.w64, .div, .max, -1) == 1)
    }

    @Test func shiftAmountsAreMasked() throws {
        #expect(try binary(.w64, .lsh, 1, 65) == 2)
        #expect(try immediate(.w64, .lsh, 1, 64) == 1)
        #expect(try binary(.w64, .rsh, 0x8000_0000_0000_0000, 0x1_0000_003f) == 1)
        #expect(try binary(.w32, .lsh, 1, 33) == 2)
        #expect(try immediate(.w32, .rsh, 0xffff_ffff_8000_0000, 35) == 0x1000_0000)
        #expect(try binary(.w64, .arsh, 0x8000_0000_0000_0000, 127) == .max)
        // 32-bit ARSH shifts in the sign of bit 31 and zero-extends the result.
        #expect(try immediate(.w32, .arsh, 0x8000_0000, 4) == 0xf800_0000)
        #expect(try immediate(.w32, .arsh, 0x1_7fff_ffff, 36) == 0x07ff_ffff)
    }

    @Test func thirtyTwoBitResultsAreZeroExtended() throws {
        #expect(try binary(.w32, .add, 0xffff_ffff, 1) == 0)
        #expect(try immediate(.w32, .add, 0xaaaa_aaaa_0000_0000, -1) == 0xffff_ffff)
        #expect(try immediate(.w32, .mov, 0, -1) == 0xffff_ffff)
        #expect(try binary(.w32, .mov, 0, 0xffff_ffff_ffff_fffe) == 0xffff_fffe)
        #expect(try immediate(.w32, .or, 0xffff_ffff_0000_0000, 0) == 0)
        #expect(try immediate(.w32, .mul, 0x1_0000_0001, 3) == 3)
        #expect(try run([Asm.lddw(.r0, 0xffff_ffff_8000_0000), .neg(.w32, dst: .r0), .exit]) == 0x8000_0000)
        // ALU64 immediates are sign-extended instead.
        #expect(try immediate(.w64, .add, 0, -1) == .max)
        #expect(try immediate(.w64, .mov, 0, Int32.min) == 0xffff_ffff_8000_0000)
    }

    @Test func signExtendingMoves() throws {
        func movsx(_ width: Width, _ bits: UInt8, _ value: UInt64) throws -> UInt64 {
            try run([Asm.lddw(.r1, value), .movsx(width, dst: .r0, src: .r1, bits: bits), .exit])
        }
        #expect(try movsx(.w64, 8, 0x1234_5680) == 0xffff_ffff_ffff_ff80)
        #expect(try movsx(.w64, 8, 0xff7f) == 0x7f)
        #expect(try movsx(.w64, 16, 0x8000) == 0xffff_ffff_ffff_8000)
        #expect(try movsx(.w64, 32, 0x1_8000_0000) == 0xffff_ffff_8000_0000)
        #expect(try movsx(.w32, 8, 0xffff_ffff_0000_0080) == 0xffff_ff80)
        #expect(try movsx(.w32, 16, 0x7fff) == 0x7fff)
        #expect(try movsx(.w32, 16, 0x8000) == 0xffff_8000)
    }

    @Test func byteSwaps() throws {
        func swap(_ kind: ByteSwapKind, _ bits: UInt8) throws -> UInt64 {
            try run([Asm.lddw(.r0, 0x1122_3344_5566_7788), .byteSwap(kind, dst: .r0, bits: bits), .exit])
        }
        #expect(try swap(.swap, 16) == 0x8877)
        #expect(try swap(.swap, 32) == 0x8877_6655)
        #expect(try swap(.swap, 64) == 0x8877_6655_4433_2211)
        // This host is little-endian: to-LE truncates, to-BE swaps.
        #expect(ByteOrder.host == .little)
        #expect(try swap(.toLittleEndian, 16) == 0x7788)
        #expect(try swap(.toLittleEndian, 32) == 0x5566_7788)
        #expect(try swap(.toLittleEndian, 64) == 0x1122_3344_5566_7788)
        #expect(try swap(.toBigEndian, 16) == 0x8877)
        #expect(try swap(.toBigEndian, 32) == 0x8877_6655)
        #expect(try swap(.toBigEndian, 64) == 0x8877_6655_4433_2211)
    }

    /// JMP32 compares the low halves only; JMP the whole registers.
    @Test func jump32IgnoresHighBits() throws {
        func taken(_ width: Width, _ c: JumpCondition, _ a: UInt64, _ b: UInt64) throws -> Bool {
            try run([Asm.lddw(.r1, a), Asm.lddw(.r2, b), .branch(width, c, dst: .r1, .register(.r2), offset: 2),
                     Asm.mov(.r0, 0), .exit, Asm.mov(.r0, 1), .exit]) == 1
        }
        #expect(try taken(.w32, .eq, 0x1_0000_0005, 0x2_0000_0005))
        #expect(try !taken(.w64, .eq, 0x1_0000_0005, 0x2_0000_0005))
        #expect(try !taken(.w32, .sgt, 0x8000_0000, 0))
        #expect(try taken(.w64, .sgt, 0x8000_0000, 0))
        #expect(try taken(.w32, .lt, 0xffff_ffff_0000_0001, 2))
        #expect(try !taken(.w32, .set, 0xffff_ffff_0000_0000, 0xffff_ffff_0000_0000))
        #expect(try taken(.w64, .set, 0xffff_ffff_0000_0000, 0xffff_ffff_0000_0000))
        // JMP32 immediates are 32 bits; JMP immediates are sign-extended.
        #expect(try run([Asm.lddw(.r1, 0xffff_ffff), .branch(.w32, .eq, dst: .r1, .immediate(-1), offset: 2),
                         Asm.mov(.r0, 0), .exit, Asm.mov(.r0, 1), .exit]) == 1)
        #expect(try run([Asm.lddw(.r1, 0xffff_ffff), .branch(.w64, .eq, dst: .r1, .immediate(-1), offset: 2),
                         Asm.mov(.r0, 0), .exit, Asm.mov(.r0, 1), .exit]) == 0)
    }

    @Test func longJumpUsesThe32BitOffset() throws {
        #expect(try run([Asm.mov(.r0, 1), .jumpLong(offset: 1), Asm.mov(.r0, 2), .exit]) == 1)
    }
}
