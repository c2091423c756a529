import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFNativeDisassembler
import Foundation
import Testing

/// Every instruction form the RISC-V encoder emits, checked byte for byte
/// against LLVM's assembler (`llvm-mc -triple=riscv64 -mattr=+m,+a,+c
/// --show-encoding`, with Zba/Zbb for their forms). Plain forms are
/// assembled under `.option norvc`; with compression on, under `.option
/// rvc`, where llvm-mc picks the 16-bit form whenever one exists, so the
/// encoder must compress exactly where the C extension allows (forms it
/// deliberately leaves 32 bits wide, such as branches to labels, say so
/// with `norvc`). The kit's `LLVMMC` driver assembles and compares.
@Suite struct GoldenEncodingTests {

    final class Collector {
        let asm = JITAssembler<RV64Branch>(instructionCount: 0, functionCount: 0, capacityHint: 1 << 16, padder: { _, _ in })
        let compressed: Bool
        var forms: [(text: String, norvc: Bool, start: Int, end: Int)] = []
        var e: RV64Encoder { RV64Encoder(asm, compressed: compressed) }

        init(compressed: Bool) { self.compressed = compressed }

        func add(_ text: String, norvc: Bool = false, _ emit: (RV64Encoder) -> Void) {
            let start = asm.code.count
            emit(e)
            forms.append((text, norvc, start, asm.code.count))
        }

        func collect() -> [(text: String, norvc: Bool, bytes: [UInt8])] {
            asm.resolveFixups()
            #expect(asm.code.poisoned == nil, "poisoned: \(asm.code.poisoned ?? "")")
            let bytes = asm.code.bytes
            return forms.map { ($0.text, $0.norvc, Array(bytes[$0.start..<$0.end])) }
        }
    }

    static let sample: [RV64Register] = [.zero, .ra, .sp, .t0, .t1, .s0, .s1, .a0, .a5, .a7, .s2, .s5, .s9, .t3, .t6]
    static let immediates: [Int64] = [0, 1, -1, 31, -32, 32, 2047, -2048, 512, -512, 16, 0x7f0]

    static func forms(compressed: Bool) -> [(text: String, norvc: Bool, bytes: [UInt8])] {
        let c = Collector(compressed: compressed)
        typealias Three = (RV64Encoder) -> (RV64Register, RV64Register, RV64Register) -> Void
        let three: [(String, Three)] = [
            ("add", { $0.add }), ("sub", { $0.sub }), ("sll", { $0.sll }), ("slt", { $0.slt }), ("sltu", { $0.sltu }),
            ("xor", { $0.xor }), ("srl", { $0.srl }), ("sra", { $0.sra }), ("or", { $0.or }), ("and", { $0.and }),
            ("mul", { $0.mul }), ("div", { $0.div }), ("divu", { $0.divu }), ("rem", { $0.rem }), ("remu", { $0.remu }),
            ("addw", { $0.addw }), ("subw", { $0.subw }), ("sllw", { $0.sllw }), ("srlw", { $0.srlw }), ("sraw", { $0.sraw }),
            ("mulw", { $0.mulw }), ("divw", { $0.divw }), ("divuw", { $0.divuw }), ("remw", { $0.remw }), ("remuw", { $0.remuw }),
        ]
        for (name, op) in three {
            for d in sample where d != .zero {
                for (a, b) in [(d, RV64Register.a1), (d, .s1), (RV64Register.a2, .t3), (.zero, .a4), (d, .zero), (.s8, d)] {
                    c.add("\(name) \(d), \(a), \(b)") { op($0)(d, a, b) }
                }
            }
        }
        typealias Imm = (RV64Encoder) -> (RV64Register, RV64Register, Int64) -> Void
        let immediate: [(String, Imm)] = [
            ("addi", { $0.addi }), ("slti", { $0.slti }), ("sltiu", { $0.sltiu }), ("xori", { $0.xori }), ("ori", { $0.ori }),
            ("andi", { $0.andi }), ("addiw", { $0.addiw }),
        ]
        for (name, op) in immediate {
            for d in sample where d != .zero {
                for a in [d, RV64Register.zero, .a3, .sp] {
                    for imm in immediates {
                        c.add("\(name) \(d), \(a), \(imm)") { op($0)(d, a, imm) }
                    }
                }
            }
        }
        typealias Shift = (RV64Encoder) -> (RV64Register, RV64Register, UInt32) -> Void
        let shifts: [(String, Shift, UInt32)] = [
            ("slli", { $0.slli }, 63), ("srli", { $0.srli }, 63), ("srai", { $0.srai }, 63),
            ("slliw", { $0.slliw }, 31), ("srliw", { $0.srliw }, 31), ("sraiw", { $0.sraiw }, 31),
        ]
        for (name, op, limit) in shifts {
            for d in sample where d != .zero {
                for a in [d, RV64Register.a3] {
                    for amount in [0, 1, 8, 31, limit] {
                        c.add("\(name) \(d), \(a), \(amount)") { op($0)(d, a, amount) }
                    }
                }
            }
        }
        for d in sample where d != .zero {
            for imm: Int64 in [1, 31, -32, 0x12345, -0x80000, 0x7ffff, 0xfffff - 0x100000] {
                c.add("lui \(d), \(imm & 0xfffff)") { $0.lui(d, imm) }
                c.add("auipc \(d), \(imm & 0xfffff)") { $0.auipc(d, imm) }
            }
        }
        // Constants: the kernel's sequence, checked against llvm-mc's `li` expansion
        // where they agree on the form, and by value otherwise (`ImmediateTests`).
        for value: Int64 in [0, 1, -1, 2047, -2048, 2048, 0x7fff_ffff, -0x8000_0000, 0x1234_5678, 0x7fff_f800, 0x800] {
            let lo = (value << 52) >> 52, hi = ((value - lo) >> 12) & 0xfffff
            let text = hi == 0 ? "addi a0, zero, \(lo)" : "lui a0, \(hi)" + (lo != 0 ? "\naddiw a0, a0, \(lo)" : "")
            c.add(text) { $0.loadImmediate(.a0, value) }
        }
        // 64-bit: the upper part, shifted, plus the low 12 bits.
        c.add("addi a0, zero, 1\nslli a0, a0, 32") { $0.loadImmediate(.a0, 1 << 32) }
        c.add("addi a0, zero, -1\nslli a0, a0, 63") { $0.loadImmediate(.a0, .min) }
        c.add("lui a0, 9321\naddiw a0, a0, -1329\nslli a0, a0, 15\naddi a0, a0, -1") { $0.loadImmediate(.a0, 0x1234_5678 << 12 - 1) }
        c.add("addi a0, zero, 1\nslli a0, a0, 32\naddi a0, a0, -1") { $0.loadImmediate(.a0, 0xffff_ffff) }
        for kind in RV64Encoder.LoadKind.allCases {
            for (d, base) in [(RV64Register.a0, RV64Register.a1), (.s1, .s0), (.t1, .sp), (.a5, .s5), (.t6, .t1)] {
                for offset: Int64 in [0, 8, 4, 2, 248, 120, 504, -8, 2047, -2048] {
                    c.add("\(kindName(kind)) \(d), \(offset)(\(base))") { $0.load(kind, d, offset, base) }
                }
            }
        }
        for bytes in [1, 2, 4, 8] {
            let name = ["sb", "sh", "", "sw", "", "", "", "sd"][bytes - 1]
            for (value, base) in [(RV64Register.a0, RV64Register.a1), (.zero, .s1), (.s1, .sp), (.t3, .s5), (.a5, .s0)] {
                for offset: Int64 in [0, 8, 4, 248, 120, 504, -8, 2047, -2048] {
                    // c.swsp exists but the encoder never stores words through sp.
                    let norvc = bytes == 4 && base == .sp
                    c.add("\(name) \(value), \(offset)(\(base))", norvc: norvc) { $0.store(bytes: bytes, value, offset, base) }
                }
            }
        }
        for op in RV64Encoder.AMO.allCases {
            for double in [false, true] {
                for ordered in [false, true] {
                    for (d, value, address) in [(RV64Register.zero, RV64Register.a1, RV64Register.t1), (.a3, .a3, .s1), (.t0, .s2, .a0)] {
                        let suffix = (double ? ".d" : ".w") + (ordered ? ".aqrl" : "")
                        c.add("\(amoName(op))\(suffix) \(d), \(value), (\(address))") { $0.amo(op, double: double, ordered: ordered, d, value, address) }
                    }
                }
            }
        }
        for double in [false, true] {
            let w = double ? "d" : "w"
            c.add("lr.\(w).aqrl t3, (t1)") { $0.lr(double: double, .t3, .t1) }
            c.add("sc.\(w).rl t4, a1, (t1)") { $0.sc(double: double, .t4, .a1, .t1) }
            c.add("lr.\(w).aqrl a5, (s1)") { $0.lr(double: double, .a5, .s1) }
        }
        c.add("fence rw, rw") { $0.fence() }
        c.add("ebreak") { $0.ebreak() }
        c.add("nop") { $0.nop() }
        c.add("ret") { $0.ret() }
        for (d, rs, offset) in [(RV64Register.ra, RV64Register.t6, Int64(0)), (.zero, .t5, 0), (.ra, .t6, -4), (.zero, .ra, 0), (.ra, .a0, 2047)] {
            c.add("jalr \(d), \(offset)(\(rs))") { $0.jalr(d, offset, rs) }
        }
        for (d, displacement) in [(RV64Register.ra, 2048), (.ra, -4096), (.zero, 1 << 19), (.ra, -(1 << 20))] {
            c.add("jal \(d), \(displacement)", norvc: true) { $0.jal(d, displacement: displacement) }
        }
        // Branches to labels: short (B-type) forward and backward; and the
        // long form, the inverted branch over `jal`, when the estimate says
        // it will not reach (forced by a label placed far away).
        for condition in RV64Condition.allCases {
            for (a, b) in [(RV64Register.a0, RV64Register.a1), (.t3, .zero), (.s7, .t2)] {
                c.add("\(condition.mnemonic) \(a), \(b), 8\nnop", norvc: true) { e in
                    let label = e.asm.makeLabel()
                    e.branch(condition, a, b, label)
                    RV64Encoder(e.asm).nop()
                    e.asm.bind(label)
                }
                c.add("nop\n\(condition.mnemonic) \(a), \(b), -4", norvc: true) { e in
                    let label = e.asm.makeLabel()
                    e.asm.bind(label)
                    RV64Encoder(e.asm).nop()
                    e.branch(condition, a, b, label)
                }
            }
        }
        c.add("jal zero, 8\nnop", norvc: true) { e in
            let label = e.asm.makeLabel()
            e.j(label)
            RV64Encoder(e.asm).nop()
            e.asm.bind(label)
        }
        c.add("auipc t3, 0\naddi t3, t3, 12\nnop", norvc: true) { e in
            let label = e.asm.makeLabel()
            e.loadAddress(.t3, label)
            RV64Encoder(e.asm).nop()
            e.asm.bind(label)
        }
        return c.collect()
    }

    /// The Zba/Zbb forms (never compressed).
    static func bitManipulationForms() -> [(text: String, norvc: Bool, bytes: [UInt8])] {
        let c = Collector(compressed: false)
        for (d, a) in [(RV64Register.a0, RV64Register.a1), (.s1, .s1), (.t3, .a5)] {
            c.add("zext.w \(d), \(a)") { $0.zextw(d, a) }
            c.add("zext.h \(d), \(a)") { $0.zexth(d, a) }
            c.add("sext.b \(d), \(a)") { $0.sextb(d, a) }
            c.add("sext.h \(d), \(a)") { $0.sexth(d, a) }
            c.add("rev8 \(d), \(a)") { $0.rev8(d, a) }
            for n in UInt32(1)...3 { c.add("sh\(n)add \(d), \(a), t4") { $0.shadd(n, d, a, .t4) } }
        }
        return c.collect()
    }

    static func kindName(_ kind: RV64Encoder.LoadKind) -> String {
        switch kind { case .lb: "lb"; case .lh: "lh"; case .lw: "lw"; case .ld: "ld"; case .lbu: "lbu"; case .lhu: "lhu"; case .lwu: "lwu" }
    }

    static func amoName(_ op: RV64Encoder.AMO) -> String {
        switch op { case .add: "amoadd"; case .swap: "amoswap"; case .xor: "amoxor"; case .or: "amoor"; case .and: "amoand" }
    }

    /// LLVM's assembler for RV64IMAC with Zba/Zbb, compressing (`.option
    /// rvc`) or not.
    static func llvm(rvc: Bool) -> LLVMMC {
        LLVMMC(triple: "riscv64", attributes: ["+m", "+a", "+c", "+zba", "+zbb"], prologue: [rvc ? ".option rvc" : ".option norvc"])
    }

    /// Compares each form with llvm-mc's bytes; returns the mismatches. With
    /// `rvc`, the forms marked `norvc` are assembled apart, under `.option norvc`.
    static func compare(_ forms: [(text: String, norvc: Bool, bytes: [UInt8])], rvc: Bool) throws -> (lines: Int, mismatches: [String]) {
        var lines = 0, mismatches: [String] = []
        for compressing in rvc ? [true, false] : [false] {
            let group = forms.filter { !rvc || $0.norvc != compressing }.map { (text: $0.text, bytes: $0.bytes) }
            guard !group.isEmpty else { continue }
            let (count, failures) = try llvm(rvc: compressing).check(group)
            lines += count
            mismatches += failures
        }
        return (lines, mismatches)
    }

    @Test(arguments: [false, true]) func everyFormMatchesLLVM(compressed: Bool) throws {
        guard LLVMMC.isInstalled else {
            Issue.record("\(LLVMMC.path) is missing: install Debian's llvm-14")
            return
        }
        let forms = Self.forms(compressed: compressed)
        let (lines, mismatches) = try Self.compare(forms, rvc: compressed)
        print("RISC-V golden encodings (\(compressed ? "rvc" : "norvc")): \(forms.count) forms, \(lines) instructions, \(mismatches.count) mismatches")
        #expect(forms.count > 1000)
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(30).joined(separator: "\n"))")
    }

    /// llvm-mc's text of `source` without aliases, one line per instruction.
    static func llvmText(_ source: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LLVMMC.path)
        process.arguments = ["-triple=riscv64", "-mattr=+m,+a,+c,+zba,+zbb", "-M", "no-aliases"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(source.data(using: .utf8)!)
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").map { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ") }
            .filter { !$0.isEmpty && !$0.hasPrefix(".") }
    }

    /// `dump jited`'s decoder (`BPFNativeDisassembler`, Capstone has no
    /// RISC-V) reads every form back as llvm-mc prints it without aliases.
    @Test(arguments: [false, true]) func theDecoderReadsEveryFormAsLLVMPrintsIt(compressed: Bool) throws {
        guard LLVMMC.isInstalled else { return }
        let forms = Self.forms(compressed: compressed) + (compressed ? [] : Self.bitManipulationForms())
        var source = compressed ? ".option rvc\n" : ".option norvc\n"
        for form in forms {
            if compressed && form.norvc { source += ".option norvc\n" }
            source += form.text + "\n"
            if compressed && form.norvc { source += ".option rvc\n" }
        }
        let expected = try Self.llvmText(source)
        let decoder = try NativeDisassembler(.riscv64)
        let decoded = forms.flatMap { decoder.disassemble($0.bytes, address: 0x1000) }
            .map { String($0.text.split(separator: "#")[0]).trimmingCharacters(in: .whitespaces) }
        #expect(decoded.count == expected.count, "decoded \(decoded.count) instructions, llvm-mc printed \(expected.count)")
        let mismatches = zip(decoded, expected).filter { $0.0 != $0.1 }.map { "ours \($0.0), llvm \($0.1)" }
        print("RISC-V decoder (\(compressed ? "rvc" : "norvc")): \(decoded.count) instructions, \(mismatches.count) differ from llvm-mc's text")
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(30).joined(separator: "\n"))")
    }

    @Test func bitManipulationFormsMatchLLVM() throws {
        guard LLVMMC.isInstalled else { return }
        let forms = Self.bitManipulationForms()
        let (_, mismatches) = try Self.compare(forms, rvc: false)
        print("RISC-V golden encodings (Zba/Zbb): \(forms.count) forms, \(mismatches.count) mismatches")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }
}
