import Testing
@testable import BPFISA

/// Bytes produced by LLVM's BPF assembler (`clang -target bpf -mcpu=v4`) for
/// each instruction form, next to the typed instruction RFC 9669 says they are.
/// Decoding must give the instruction; encoding must give LLVM's bytes.
private let golden: [(bytes: String, instruction: Instruction)] = [
    ("04 01 00 00 05 00 00 00", .alu(.w32, .add, dst: .r1, .immediate(5))),
    ("0f 21 00 00 00 00 00 00", .alu(.w64, .add, dst: .r1, .register(.r2))),
    ("1c 21 00 00 00 00 00 00", .alu(.w32, .sub, dst: .r1, .register(.r2))),
    ("27 01 00 00 f9 ff ff ff", .alu(.w64, .mul, dst: .r1, .immediate(-7))),
    ("34 01 00 00 03 00 00 00", .alu(.w32, .div, dst: .r1, .immediate(3))),
    ("3f 21 01 00 00 00 00 00", .alu(.w64, .sdiv, dst: .r1, .register(.r2))),
    ("94 01 01 00 09 00 00 00", .alu(.w32, .smod, dst: .r1, .immediate(9))),
    ("9f 31 00 00 00 00 00 00", .alu(.w64, .mod, dst: .r1, .register(.r3))),
    ("47 01 00 00 7f 00 00 00", .alu(.w64, .or, dst: .r1, .immediate(127))),
    ("5c 21 00 00 00 00 00 00", .alu(.w32, .and, dst: .r1, .register(.r2))),
    ("67 01 00 00 3f 00 00 00", .alu(.w64, .lsh, dst: .r1, .immediate(63))),
    ("7c 31 00 00 00 00 00 00", .alu(.w32, .rsh, dst: .r1, .register(.r3))),
    ("c7 01 00 00 04 00 00 00", .alu(.w64, .arsh, dst: .r1, .immediate(4))),
    ("a4 01 00 00 ff ff ff ff", .alu(.w32, .xor, dst: .r1, .immediate(-1))),
    ("bf 21 00 00 00 00 00 00", .alu(.w64, .mov, dst: .r1, .register(.r2))),
    ("b4 01 00 00 4d 00 00 00", .alu(.w32, .mov, dst: .r1, .immediate(77))),
    ("87 01 00 00 00 00 00 00", .neg(.w64, dst: .r1)),
    ("84 01 00 00 00 00 00 00", .neg(.w32, dst: .r1)),
    ("bf 21 08 00 00 00 00 00", .movsx(.w64, dst: .r1, src: .r2, bits: 8)),
    ("bf 21 10 00 00 00 00 00", .movsx(.w64, dst: .r1, src: .r2, bits: 16)),
    ("bf 21 20 00 00 00 00 00", .movsx(.w64, dst: .r1, src: .r2, bits: 32)),
    ("bc 21 08 00 00 00 00 00", .movsx(.w32, dst: .r1, src: .r2, bits: 8)),
    ("bc 21 10 00 00 00 00 00", .movsx(.w32, dst: .r1, src: .r2, bits: 16)),
    ("d4 01 00 00 10 00 00 00", .byteSwap(.toLittleEndian, dst: .r1, bits: 16)),
    ("d4 01 00 00 40 00 00 00", .byteSwap(.toLittleEndian, dst: .r1, bits: 64)),
    ("dc 01 00 00 20 00 00 00", .byteSwap(.toBigEndian, dst: .r1, bits: 32)),
    ("d7 01 00 00 10 00 00 00", .byteSwap(.swap, dst: .r1, bits: 16)),
    ("d7 01 00 00 40 00 00 00", .byteSwap(.swap, dst: .r1, bits: 64)),
    ("05 00 03 00 00 00 00 00", .jump(offset: 3)),
    ("06 00 00 00 fe ff ff ff", .jumpLong(offset: -2)),
    ("1d 21 01 00 00 00 00 00", .branch(.w64, .eq, dst: .r1, .register(.r2), offset: 1)),
    ("56 01 ff ff 05 00 00 00", .branch(.w32, .ne, dst: .r1, .immediate(5), offset: -1)),
    ("25 01 00 00 03 00 00 00", .branch(.w64, .gt, dst: .r1, .immediate(3), offset: 0)),
    ("3d 21 00 00 00 00 00 00", .branch(.w64, .ge, dst: .r1, .register(.r2), offset: 0)),
    ("45 01 00 00 08 00 00 00", .branch(.w64, .set, dst: .r1, .immediate(8), offset: 0)),
    ("6d 21 00 00 00 00 00 00", .branch(.w64, .sgt, dst: .r1, .register(.r2), offset: 0)),
    ("76 01 00 00 ff ff ff ff", .branch(.w32, .sge, dst: .r1, .immediate(-1), offset: 0)),
    ("ad 21 00 00 00 00 00 00", .branch(.w64, .lt, dst: .r1, .register(.r2), offset: 0)),
    ("b6 01 00 00 09 00 00 00", .branch(.w32, .le, dst: .r1, .immediate(9), offset: 0)),
    ("c5 01 00 00 00 00 00 00", .branch(.w64, .slt, dst: .r1, .immediate(0), offset: 0)),
    ("dd 91 00 00 00 00 00 00", .branch(.w64, .sle, dst: .r1, .register(.r9), offset: 0)),
    ("85 00 00 00 0c 00 00 00", .call(.helper(12))),
    ("8d 03 00 00 00 00 00 00", .call(.register(.r3))),
    ("95 00 00 00 00 00 00 00", .exit),
    ("18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11", .loadImmediate64(dst: .r1, .value(0x1122_3344_5566_7788))),
    ("71 10 01 00 00 00 00 00", .load(.byte, dst: .r0, src: .r1, offset: 1)),
    ("69 10 fe ff 00 00 00 00", .load(.half, dst: .r0, src: .r1, offset: -2)),
    ("61 a0 fc ff 00 00 00 00", .load(.word, dst: .r0, src: .r10, offset: -4)),
    ("79 10 ff 7f 00 00 00 00", .load(.double, dst: .r0, src: .r1, offset: 32767)),
    ("91 10 00 00 00 00 00 00", .loadSignExtend(.byte, dst: .r0, src: .r1, offset: 0)),
    ("89 10 00 00 00 00 00 00", .loadSignExtend(.half, dst: .r0, src: .r1, offset: 0)),
    ("81 10 00 00 00 00 00 00", .loadSignExtend(.word, dst: .r0, src: .r1, offset: 0)),
    ("72 01 01 00 02 00 00 00", .storeImmediate(.byte, dst: .r1, offset: 1, imm: 2)),
    ("6a 01 01 00 fe ff ff ff", .storeImmediate(.half, dst: .r1, offset: 1, imm: -2)),
    ("62 01 01 00 03 00 00 00", .storeImmediate(.word, dst: .r1, offset: 1, imm: 3)),
    ("7a 01 01 00 04 00 00 00", .storeImmediate(.double, dst: .r1, offset: 1, imm: 4)),
    ("73 21 01 00 00 00 00 00", .store(.byte, dst: .r1, offset: 1, src: .r2)),
    ("6b 21 01 00 00 00 00 00", .store(.half, dst: .r1, offset: 1, src: .r2)),
    ("63 21 01 00 00 00 00 00", .store(.word, dst: .r1, offset: 1, src: .r2)),
    ("7b 21 f8 ff 00 00 00 00", .store(.double, dst: .r1, offset: -8, src: .r2)),
    ("c3 21 00 00 00 00 00 00", .atomic(.w32, .add(fetch: false), dst: .r1, offset: 0, src: .r2)),
    ("db 21 00 00 40 00 00 00", .atomic(.w64, .or(fetch: false), dst: .r1, offset: 0, src: .r2)),
    ("db 21 00 00 50 00 00 00", .atomic(.w64, .and(fetch: false), dst: .r1, offset: 0, src: .r2)),
    ("c3 21 00 00 a0 00 00 00", .atomic(.w32, .xor(fetch: false), dst: .r1, offset: 0, src: .r2)),
    ("c3 21 00 00 01 00 00 00", .atomic(.w32, .add(fetch: true), dst: .r1, offset: 0, src: .r2)),
    ("db 21 00 00 41 00 00 00", .atomic(.w64, .or(fetch: true), dst: .r1, offset: 0, src: .r2)),
    ("db 21 00 00 51 00 00 00", .atomic(.w64, .and(fetch: true), dst: .r1, offset: 0, src: .r2)),
    ("c3 21 00 00 a1 00 00 00", .atomic(.w32, .xor(fetch: true), dst: .r1, offset: 0, src: .r2)),
    ("db 21 08 00 e1 00 00 00", .atomic(.w64, .xchg, dst: .r1, offset: 8, src: .r2)),
    ("c3 21 08 00 e1 00 00 00", .atomic(.w32, .xchg, dst: .r1, offset: 8, src: .r2)),
    ("db 21 08 00 f1 00 00 00", .atomic(.w64, .cmpxchg, dst: .r1, offset: 8, src: .r2)),
    ("c3 21 08 00 f1 00 00 00", .atomic(.w32, .cmpxchg, dst: .r1, offset: 8, src: .r2)),
]

func parseHex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

@Suite struct GoldenEncodingTests {
    @Test(arguments: golden.indices)
    func decodesAndEncodesLikeLLVM(_ i: Int) throws {
        let (text, expected) = golden[i]
        let bytes = parseHex(text)
        let raw = stride(from: 0, to: bytes.count, by: 8).map { RawInstruction(bytes: bytes[$0..<$0 + 8]) }
        #expect(try Instruction.decode(raw, at: 0) == expected)
        #expect(expected.encoded.flatMap { $0.bytes() } == bytes)
    }

    /// Big-endian wire form: offset and imm byte-swapped, register nibbles swapped.
    @Test func bigEndianLayout() throws {
        let instruction = Instruction.branch(.w32, .ne, dst: .r1, .immediate(5), offset: -1)
        let be = instruction.encoded[0].bytes(.big)
        #expect(be == [0x56, 0x10, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05])
        let program = try Program(bytes: Program([.alu(.w64, .add, dst: .r3, .register(.r7)), .exit]).bytes(.big), byteOrder: .big)
        #expect(program.instructions[0] == .alu(.w64, .add, dst: .r3, .register(.r7)))
    }

    @Test func everyGoldenRoundTripsInBothByteOrders() throws {
        for (_, instruction) in golden {
            for order in [ByteOrder.little, .big] {
                let program = Program([instruction, .exit])
                let decoded = try Program(bytes: program.bytes(order), byteOrder: order)
                #expect(decoded.instructions == program.instructions)
            }
        }
    }
}
