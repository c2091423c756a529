import BPFAssembler
import BPFISA
import Testing

/// The LLVM style against `llvm-objdump` itself: a source covering every
/// instruction form is assembled by the toolchain's clang at test time, its
/// `.text` bytes decoded by `Program(bytes:)`, and the `.llvm` text compared
/// line by line with what `llvm-objdump -d --mcpu=v4` prints for those bytes.
@Suite struct LLVMDisassemblyTests {
    /// Every form, written in LLVM's syntax by hand (not by the printer under
    /// test). Forms LLVM's assembler has no syntax for (pseudo-source 64-bit
    /// loads, kernel-function and local calls, 32-bit `gotol` offsets) are
    /// given as `.quad` words; objdump still disassembles them.
    static let source: [String] = {
        var lines: [String] = []
        let assigns = ["+=", "-=", "*=", "/=", "s/=", "|=", "&=", "<<=", ">>=", "%=", "s%=", "^=", "=", "s>>="]
        for op in assigns {
            lines += ["r1 \(op) r2", "r3 \(op) -7", "r4 \(op) 0x7fffffff", "r5 \(op) -2147483648",
                      "w1 \(op) w2", "w3 \(op) 5", "w4 \(op) -1", "w5 \(op) 0x12345"]
        }
        lines += ["r1 = -r1", "w2 = -w2", "r9 = -r9"]
        lines += ["r1 = (s8)r2", "r1 = (s16)r2", "r1 = (s32)r2", "w1 = (s8)w2", "w1 = (s16)w2"]
        for bits in [16, 32, 64] {
            lines += ["r1 = le\(bits) r1", "r2 = be\(bits) r2", "r3 = bswap\(bits) r3"]
        }
        lines += ["goto +3", "goto -1", "goto -32768", "goto +32767", "gotol +5", "gotol -7",
                  ".quad 0x7fffffff00000006", ".quad 0x8000000000000006"]
        let compares = ["==", "!=", ">", ">=", "<", "<=", "&", "s>", "s>=", "s<", "s<="]
        for op in compares {
            lines += ["if r1 \(op) r2 goto +1", "if r3 \(op) -5 goto -2", "if r4 \(op) 0x7fffffff goto +32767",
                      "if w1 \(op) w2 goto -32768", "if w3 \(op) 9 goto +0", "if w4 \(op) -2147483648 goto +4"]
        }
        lines += ["call 12", "call 0x7fffffff", "callx r3", "callx r0", "exit",
                  ".quad 0xfffffffe00001085", ".quad 0x0000000200001085", ".quad 0x0000000500002085"]
        lines += ["r1 = 0x1122334455667788 ll", "r2 = -1 ll", "r3 = 0 ll", "r4 = -9223372036854775808 ll",
                  "r5 = 0x7fffffffffffffff ll", "r6 = 0xffffffff ll", "r0 = 1 ll"]
        // Pseudo-source kinds 1–6: first slot, then the second slot's word.
        for (src, high) in [(1, 0), (2, 8), (3, 9), (4, 0), (5, 0), (6, 16)] {
            lines += [".quad 0x000000030000\(src)118", ".quad 0x\(String(format16(high)))00000000"]
        }
        for (size, reg) in [("u8", "w"), ("u16", "w"), ("u32", "w"), ("u64", "r")] {
            for offset in ["+ 0", "+ 1", "- 2", "- 32768", "+ 32767"] {
                lines.append("\(reg)0 = *(\(size) *)(r1 \(offset))")
            }
            lines += ["*(\(size) *)(r10 - 8) = 2", "*(\(size) *)(r1 + 1) = -2", "*(\(size) *)(r1 + 0) = 0x7fffffff",
                      "*(\(size) *)(r2 - 32768) = -2147483648", "*(\(size) *)(r1 + 3) = \(reg)2", "*(\(size) *)(r10 - 16) = \(reg)9"]
        }
        for size in ["s8", "s16", "s32"] {
            lines += ["r0 = *(\(size) *)(r1 + 0)", "r2 = *(\(size) *)(r10 - 4)"]
        }
        for (size, reg) in [("u32", "w"), ("u64", "r")] {
            for op in ["+=", "|=", "&=", "^="] {
                lines += ["lock *(\(size) *)(r1 + 0) \(op) \(reg)2", "lock *(\(size) *)(r10 - 8) \(op) \(reg)3"]
            }
            for name in ["add", "or", "and", "xor"] {
                lines += ["\(reg)2 = atomic_fetch_\(name)((\(size) *)(r1 + 8), \(reg)2)"]
            }
        }
        lines += ["r2 = xchg_64(r1 + 8, r2)", "w3 = xchg32_32(r10 - 4, w3)",
                  "r0 = cmpxchg_64(r1 - 8, r0, r2)", "w0 = cmpxchg32_32(r1 + 8, w0, w2)"]
        return lines
    }()

    static func format16(_ value: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    @Test(.enabled(if: LLVMTools.found != nil,
                   "no clang/llvm-objcopy/llvm-objdump of LLVM 18+ found (looked in $BPFKIT_LLVM_BIN, /opt/swift/usr/bin, $PATH)"))
    func llvmStyleMatchesObjdump() throws {
        let tools = try #require(LLVMTools.found)
        let (bytes, expected) = try tools.assemble("\t.text\n" + Self.source.map { "\t" + $0 + "\n" }.joined())
        let program = try Program(bytes: bytes)
        let ours = Disassembler.disassemble(program, style: .llvm).split(separator: "\n").map(String.init)
        #expect(ours.count == expected.count)
        #expect(expected.count > 300, "objdump printed too few lines: the source did not assemble as intended")
        for (index, (mine, theirs)) in zip(ours, expected).enumerated() where mine != theirs {
            Issue.record("line \(index + 1): ours '\(mine)', llvm-objdump '\(theirs)'")
        }
        // And instruction by instruction through `text(of:at:style:)`.
        let single = program.instructions.enumerated()
            .filter { $0.element != .immediate64Tail }
            .map { Disassembler.text(of: $0.element, at: $0.offset, style: .llvm) }
        #expect(single == ours)
    }
}
