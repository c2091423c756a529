import BPFBackendTestKit
import BPFJIT
import BPFJITX86_64
import Foundation
import Testing

/// Every instruction form the x86-64 encoder emits, checked byte for byte
/// against LLVM's assembler (`llvm-mc -triple=x86_64 --show-encoding`).
@Suite struct GoldenEncodingTests {
    /// An encoded form: the Intel-syntax text LLVM should assemble to the same bytes.
    struct Form {
        let text: String
        let bytes: [UInt8]
    }


    /// Emits each form into its own slice of one buffer.
    final class Collector {
        let asm = JITAssembler<X86Branch>(instructionCount: 0, functionCount: 0, capacityHint: 1 << 16, padder: { _, _ in })
        var forms: [(text: String, start: Int, end: Int)] = []
        var e: X86Encoder { X86Encoder(asm) }

        func add(_ text: String, _ emit: (X86Encoder) -> Void) {
            let start = asm.code.count
            emit(e)
            forms.append((text, start, asm.code.count))
        }

        func collect() -> [Form] {
            asm.resolveFixups()
            let bytes = asm.code.bytes
            return forms.map { Form(text: $0.text, bytes: Array(bytes[$0.start..<$0.end])) }
        }
    }

    static let sizes: [OperandSize] = [.dword, .qword]
    static let immediates: [Int32] = [0, 1, -1, 127, -128, 128, -129, 1000, Int32.max, Int32.min]
    static let displacements: [Int32] = [0, 8, -8, 127, -128, 128, -512, 4096]

    static func forms() -> [Form] {
        let c = Collector()
        let regs = GPR.all
        // Arithmetic, register–register, register–immediate, register–memory, memory–immediate.
        for kind in ArithmeticKind.allCases {
            for size in sizes {
                for d in regs {
                    for s in regs { c.add("\(kind.mnemonic) \(d.name(size)), \(s.name(size))") { $0.arith(kind, size, d, s) } }
                    for imm in immediates { c.add("\(kind.mnemonic) \(d.name(size)), \(imm)") { $0.arith(kind, size, d, imm: imm) } }
                }
                for base in regs {
                    for disp in displacements {
                        let m = Memory(base, disp)
                        c.add("\(kind.mnemonic) \(GPR.r10.name(size)), \(m.text(size))") { $0.arith(kind, size, .r10, m) }
                        c.add("\(kind.mnemonic) \(GPR.r11.name(size)), \(m.text(size))") { $0.arith(kind, size, .r11, m) }
                        c.add("\(kind.mnemonic) \(m.text(size)), 1") { $0.arith(kind, size, m, imm: 1) }
                        if disp == -8 || disp == 128 {   // op register, memory (folded loads): every destination
                            for d in regs where d != .rsp {
                                c.add("\(kind.mnemonic) \(d.name(size)), \(m.text(size))") { $0.arith(kind, size, d, m) }
                            }
                        }
                        if kind == .add {   // imul register, memory (folded loads): every destination
                            for d in regs where d != .rsp {
                                c.add("imul \(d.name(size)), \(m.text(size))") { $0.imul(size, d, m) }
                            }
                        }
                        c.add("\(kind.mnemonic) \(m.text(size)), 300") { $0.arith(kind, size, m, imm: 300) }
                    }
                }
            }
        }
        for size in sizes {
            for d in regs {
                for s in regs {
                    c.add("mov \(d.name(size)), \(s.name(size))") { $0.mov(size, d, s) }
                    c.add("test \(d.name(size)), \(s.name(size))") { $0.test(size, d, s) }
                    c.add("imul \(d.name(size)), \(s.name(size))") { $0.imul(size, d, s) }
                    for imm: Int32 in [3, -7, 1000] {
                        c.add("imul \(d.name(size)), \(s.name(size)), \(imm)") { $0.imul(size, d, s, imm: imm) }
                    }
                    for condition in Condition.allCases {
                        c.add("cmov\(condition.mnemonic) \(d.name(size)), \(s.name(size))") { $0.cmov(condition, size, d, s) }
                    }
                    // lea with an index (every base, every index but rsp), each scale and displacement size.
                    if s != .rsp {
                        for (scale, disp) in [(UInt8(1), Int32(0)), (2, 0), (4, -8), (8, 300)] {
                            let address = "[\(d.name(.qword)) + \(s.name(.qword))*\(scale)\(disp == 0 ? "" : disp < 0 ? " - \(-disp)" : " + \(disp)")]"
                            c.add("lea \(GPR.r11.name(size)), \(address)") { $0.lea(size, .r11, base: d, index: s, scale: scale, disp: disp) }
                            c.add("lea \(GPR.rcx.name(size)), \(address)") { $0.lea(size, .rcx, base: d, index: s, scale: scale, disp: disp) }
                            if size == .qword {   // indexed loads, every size, into a low and a high register
                                for value in [GPR.rcx, .r8] {
                                    c.add("movzx \(value.name(.dword)), byte ptr \(address)") { $0.loadIndexed(.byte, value, base: d, index: s, scale: scale, disp: disp) }
                                    c.add("movzx \(value.name(.dword)), word ptr \(address)") { $0.loadIndexed(.word, value, base: d, index: s, scale: scale, disp: disp) }
                                    c.add("mov \(value.name(.dword)), dword ptr \(address)") { $0.loadIndexed(.dword, value, base: d, index: s, scale: scale, disp: disp) }
                                    c.add("mov \(value.name(.qword)), qword ptr \(address)") { $0.loadIndexed(.qword, value, base: d, index: s, scale: scale, disp: disp) }
                                }
                            }
                        }
                    }
                    c.add("movsx \(d.name(size)), \(s.name(.byte))") { $0.movsx(size, d, s, from: .byte) }
                    c.add("movsx \(d.name(size)), \(s.name(.word))") { $0.movsx(size, d, s, from: .word) }
                }
                for imm: Int32 in [1, -1, 0x7fff_ffff] { c.add("test \(d.name(size)), \(imm)") { $0.test(size, d, imm: imm) } }
                c.add("neg \(d.name(size))") { $0.neg(size, d) }
                c.add("div \(d.name(size))") { $0.div(size, d) }
                c.add("idiv \(d.name(size))") { $0.idiv(size, d) }
                c.add("bswap \(d.name(size))") { $0.bswap(size, d) }
                for kind in ShiftKind.allCases {
                    for count: UInt8 in [1, 7, 31] { c.add("\(kind.mnemonic) \(d.name(size)), \(count)") { $0.shift(kind, size, d, count: count) } }
                    c.add("\(kind.mnemonic) \(d.name(size)), cl") { $0.shiftByCL(kind, size, d) }
                }
                // BMI2 three-operand shifts: dst, src (dst itself, as the JIT uses them, and another), count.
                for kind in [ShiftKind.shl, .shr, .sar] {
                    for count in regs {
                        for src in [d, GPR.r13] {
                            c.add("\(kind.mnemonic)x \(d.name(size)), \(src.name(size)), \(count.name(size))") {
                                $0.shiftx(kind, size, dst: d, src: src, count: count)
                            }
                        }
                    }
                }
            }
            c.add(size == .qword ? "cqo" : "cdq") { $0.signExtendAccumulator(size) }
        }
        for d in regs {
            for s in regs {
                c.add("movzx \(d.name(.dword)), \(s.name(.byte))") { $0.movzx(d, s, from: .byte) }
                c.add("movzx \(d.name(.dword)), \(s.name(.word))") { $0.movzx(d, s, from: .word) }
                c.add("movsxd \(d.name(.qword)), \(s.name(.dword))") { $0.movsx(.qword, d, s, from: .dword) }
            }
            c.add("ror \(d.name(.word)), 8") { $0.shift(.ror, .word, d, count: 8) }
            for imm: UInt32 in [0, 42, 0xffff_ffff] { c.add("mov \(d.name(.dword)), \(imm)") { $0.mov32(d, imm: imm) } }
            for imm: Int32 in [-1, Int32.min] { c.add("mov \(d.name(.qword)), \(imm)") { $0.mov64(d, simm: imm) } }
            c.add("movabs \(d.name(.qword)), 0x1122334455667788") { $0.movabs(d, imm: 0x1122_3344_5566_7788) }
            c.add("push \(d)") { $0.push(d) }
            c.add("pop \(d)") { $0.pop(d) }
            c.add("call \(d)") { $0.call(d) }
            c.add("jmp \(d)") { $0.jmp(d) }
        }
        // Memory: every base register (rsp/r12 need SIB, rbp/r13 a displacement) and displacement size.
        for base in regs {
            for disp in displacements {
                let m = Memory(base, disp)
                for value in [GPR.rax, .rsi, .r9, .r15] {
                    c.add("movzx \(value.name(.dword)), \(m.text(.byte))") { $0.load(.byte, value, m) }
                    c.add("movzx \(value.name(.dword)), \(m.text(.word))") { $0.load(.word, value, m) }
                    c.add("mov \(value.name(.dword)), \(m.text(.dword))") { $0.load(.dword, value, m) }
                    c.add("mov \(value.name(.qword)), \(m.text(.qword))") { $0.load(.qword, value, m) }
                    c.add("movsx \(value.name(.qword)), \(m.text(.byte))") { $0.loadSignExtend(.byte, value, m) }
                    c.add("movsx \(value.name(.qword)), \(m.text(.word))") { $0.loadSignExtend(.word, value, m) }
                    c.add("movsxd \(value.name(.qword)), \(m.text(.dword))") { $0.loadSignExtend(.dword, value, m) }
                    for size in OperandSize.allCases {
                        c.add("mov \(m.text(size)), \(value.name(size))") { $0.store(size, m, value) }
                    }
                    c.add("lea \(value.name(.qword)), \(m.text(nil))") { $0.lea(value, m) }
                    c.add("lea \(value.name(.dword)), \(m.text(nil))") { $0.lea(.dword, value, m) }
                    for size in sizes {
                        for kind in [ArithmeticKind.add, .or, .and, .xor] {
                            c.add("lock \(kind.mnemonic) \(m.text(size)), \(value.name(size))") { $0.lock(kind, size, m, value) }
                        }
                        c.add("lock xadd \(m.text(size)), \(value.name(size))") { $0.lockXadd(size, m, value) }
                        c.add("xchg \(m.text(size)), \(value.name(size))") { $0.xchg(size, m, value) }
                        c.add("lock cmpxchg \(m.text(size)), \(value.name(size))") { $0.lockCmpxchg(size, m, value) }
                    }
                }
                c.add("mov \(m.text(.byte)), -3") { $0.store(.byte, m, imm: -3) }
                c.add("mov \(m.text(.word)), 1000") { $0.store(.word, m, imm: 1000) }
                c.add("mov \(m.text(.dword)), -100000") { $0.store(.dword, m, imm: -100_000) }
                c.add("mov \(m.text(.qword)), -100000") { $0.store(.qword, m, imm: -100_000) }
                for sil in [GPR.rsi, .rdi, .rbp, .rsp] {
                    c.add("mov \(m.text(.byte)), \(sil.name(.byte))") { $0.store(.byte, m, sil) }
                }
            }
        }
        c.add("ret") { $0.ret() }
        c.add("leave") { $0.leave() }
        c.add("push 0") { $0.push(imm: 0) }
        c.add("push 64") { $0.push(imm: 64) }
        c.add("rep stosq") { $0.repStosq() }
        c.add("int3") { $0.int3() }
        return c.collect()
    }

    /// The backend test kit's llvm-mc driver for x86-64, in Intel syntax.
    static let llvm = LLVMMC(triple: "x86_64", options: ["-x86-asm-syntax=intel"], prologue: [".intel_syntax noprefix"])

    @Test func everyFormMatchesLLVM() throws {
        guard LLVMMC.isInstalled else {
            print("skipped: \(LLVMMC.path) not found (Debian package llvm)")
            return
        }
        let forms = Self.forms()
        let (lines, failures) = try Self.llvm.check(forms.map { ($0.text, $0.bytes) })
        print("x86-64 encoder: \(forms.count) forms (\(lines) instructions) checked against llvm-mc, \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    /// Branches: opcode bytes against llvm-mc (which leaves the displacement
    /// as a fixup), displacements against the label positions.
    @Test func branchFormsMatchLLVM() throws {
        guard LLVMMC.isInstalled else {
            print("skipped: \(LLVMMC.path) not found (Debian package llvm)")
            return
        }
        let asm = JITAssembler<X86Branch>(instructionCount: 0, functionCount: 0, capacityHint: 4096, padder: { _, _ in })
        let e = X86Encoder(asm)
        var texts: [String] = [], slices: [(Int, Int, Int)] = []   // start, end, expected displacement
        for (far, padding) in [(false, 10), (true, 300)] {
            for condition in Condition.allCases {
                let target = asm.makeLabel()
                asm.bind(target)
                let origin = asm.code.count
                X86Encoder.nop(padding, into: asm.code)
                let start = asm.code.count
                e.j(condition, target)
                slices.append((start, asm.code.count, origin - asm.code.count))
                texts.append((far ? "{disp32} " : "") + "j\(condition.mnemonic) L")
            }
            let target = asm.makeLabel()
            asm.bind(target)
            let origin = asm.code.count
            X86Encoder.nop(padding, into: asm.code)
            let start = asm.code.count
            e.jmp(target)
            slices.append((start, asm.code.count, origin - asm.code.count))
            texts.append((far ? "{disp32} " : "") + "jmp L")
        }
        let callTarget = asm.makeLabel()
        asm.bind(callTarget)
        let start = asm.code.count
        e.call(callTarget)
        slices.append((start, asm.code.count, start - asm.code.count))
        texts.append("call L")
        asm.resolveFixups()
        let bytes = asm.code.bytes
        let (encodings, diagnostics) = try Self.llvm.encode(texts + ["L:"])
        #expect(diagnostics.isEmpty, "llvm-mc complained: \(diagnostics.prefix(2000))")
        try #require(encodings.count == texts.count)
        for (i, expected) in encodings.enumerated() {
            let (s, end, displacement) = slices[i]
            let emitted = Array(bytes[s..<end])
            #expect(emitted.count == expected.count, "\(texts[i]): length")
            let opcodeLength = expected.firstIndex(of: nil) ?? expected.count
            #expect(Array(emitted.prefix(opcodeLength)) == expected.prefix(opcodeLength).map { $0! }, "\(texts[i]): opcode")
            var value: Int64 = 0
            for (k, byte) in emitted.dropFirst(opcodeLength).enumerated() { value |= Int64(byte) << (8 * Int64(k)) }
            let width = emitted.count - opcodeLength
            let signed = width == 1 ? Int64(Int8(truncatingIfNeeded: value)) : Int64(Int32(truncatingIfNeeded: value))
            #expect(signed == Int64(displacement), "\(texts[i]): displacement")
        }
    }

    /// The padding NOPs decode as NOPs of the intended lengths.
    @Test func nopsAreTheRecommendedForms() throws {
        let code = CodeBuffer()
        for n in 1...9 {
            code.reset()
            X86Encoder.nop(n, into: code)
            #expect(code.count == n)
        }
        code.reset()
        X86Encoder.nop(23, into: code)
        #expect(code.count == 23)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
