import BPFISA
import BPFJIT
import BPFJITArm64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// Immediate forms where they fit, in the spirit of the kernel's arm64 JIT:
/// each BPF instruction below must lower to exactly the listed AArch64
/// instructions (as Capstone prints them; r0 is x7, r1 is x0).
@Suite struct CodeQualityTests {
    static let cases: [(Instruction, [String])] = [
        (.alu(.w64, .add, dst: .r0, .immediate(5)), ["add x7, x7, #5"]),
        (.alu(.w64, .add, dst: .r0, .immediate(-5)), ["sub x7, x7, #5"]),
        (.alu(.w64, .sub, dst: .r0, .immediate(0x3000)), ["sub x7, x7, #3, lsl #12"]),
        (.alu(.w64, .add, dst: .r0, .immediate(0x12345)), ["add x7, x7, #0x12, lsl #12", "add x7, x7, #0x345"]),
        (.alu(.w32, .add, dst: .r0, .immediate(0)), ["add w7, w7, #0"]),
        (.alu(.w64, .add, dst: .r0, .immediate(0)), []),
        (.alu(.w64, .and, dst: .r0, .immediate(0xff)), ["and x7, x7, #0xff"]),
        (.alu(.w32, .or, dst: .r0, .immediate(Int32(bitPattern: 0x8000_0000))), ["orr w7, w7, #0x80000000"]),
        (.alu(.w64, .xor, dst: .r0, .immediate(-1)), ["mvn x7, x7"]),
        (.alu(.w64, .and, dst: .r0, .immediate(0)), ["and x7, x7, xzr"]),
        (.alu(.w64, .and, dst: .r0, .immediate(0x1234)), ["movz w10, #0x1234", "and x7, x7, x10"]),
        (.alu(.w64, .mov, dst: .r0, .immediate(-1)), ["movn x7, #0"]),
        (.alu(.w64, .mov, dst: .r0, .immediate(0x12_3456)), ["movz w7, #0x3456", "movk w7, #0x12, lsl #16"]),
        (.alu(.w32, .mov, dst: .r0, .immediate(-2)), ["movn w7, #0x1"]),
        (.loadImmediate64(dst: .r0, .value(0x5555_5555_5555_5555)), ["orr x7, xzr, #0x5555555555555555"]),
        (.loadImmediate64(dst: .r0, .value(0xffff_ffff_ffff_1234)), ["movn x7, #0xedcb"]),
        (.loadImmediate64(dst: .r0, .value(0x1_0000_0000)), ["movz x7, #0x1, lsl #32"]),
        (.alu(.w64, .lsh, dst: .r0, .immediate(3)), ["lsl x7, x7, #3"]),
        (.alu(.w32, .arsh, dst: .r0, .immediate(35)), ["asr w7, w7, #3"]),
        (.alu(.w64, .div, dst: .r0, .immediate(8)), ["lsr x7, x7, #3"]),
        (.alu(.w64, .mod, dst: .r0, .immediate(16)), ["and x7, x7, #0xf"]),
        (.alu(.w64, .sdiv, dst: .r0, .register(.r1)), ["sdiv x7, x7, x0"]),
        (.alu(.w32, .smod, dst: .r0, .register(.r1)), ["sdiv w11, w7, w0", "msub w7, w11, w0, w7"]),
        (.movsx(.w64, dst: .r0, src: .r1, bits: 16), ["sxth x7, w0"]),
        (.byteSwap(.toBigEndian, dst: .r0, bits: 16), ["rev16 w7, w7", "uxth w7, w7"]),
        (.byteSwap(.toLittleEndian, dst: .r0, bits: 64), []),
        (.load(.word, dst: .r0, src: .r10, offset: -8), ["ldur w7, [x25, #-8]"]),
        (.loadSignExtend(.half, dst: .r0, src: .r10, offset: -512), ["movn x10, #0x1ff", "ldrsh x7, [x25, x10]"]),
        (.storeImmediate(.double, dst: .r10, offset: -16, imm: 0), ["stur xzr, [x25, #-0x10]"]),
    ]

    /// Branches: CBZ/CBNZ against zero, TBNZ for one bit, CMP/CMN immediates.
    static let branches: [(Instruction, [String])] = [
        (.branch(.w64, .eq, dst: .r1, .immediate(0), offset: 1), ["cbz x0"]),
        (.branch(.w32, .ne, dst: .r1, .immediate(0), offset: 1), ["cbnz w0"]),
        (.branch(.w64, .set, dst: .r1, .immediate(0x40), offset: 1), ["tbnz w0, #6"]),
        (.branch(.w64, .set, dst: .r1, .immediate(0x30), offset: 1), ["tst x0, #0x30", "b.ne"]),
        (.branch(.w64, .sgt, dst: .r1, .immediate(-7), offset: 1), ["cmn x0, #7", "b.gt"]),
        (.branch(.w32, .lt, dst: .r1, .immediate(4095), offset: 1), ["cmp w0, #0xfff", "b.lo"]),
    ]

    /// The listing lines of instruction 0 of `[instruction, mov r0, 0, exit]`.
    static func lines(_ instruction: Instruction) throws -> [String] {
        let program = Program([instruction, .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit])
        let image = try Arm64JIT.assemble(program, at: 0x10_0000)
        let listing = try JITListing(image: image, program: program)
        return listing.sections.first { $0.pc == 0 }?.instructions.map(\.text) ?? []
    }

    @Test func immediateFormsWhereTheyFit() throws {
        for (instruction, expected) in Self.cases {
            let got = try Self.lines(instruction)
            #expect(got == expected, "\(instruction): \(got)")
        }
    }

    @Test func branchesUseTheirShortestForms() throws {
        for (instruction, expected) in Self.branches {
            let got = try Self.lines(instruction)
            #expect(got.count == expected.count && zip(got, expected).allSatisfy { $0.hasPrefix($1) }, "\(instruction): \(got)")
        }
    }
}
