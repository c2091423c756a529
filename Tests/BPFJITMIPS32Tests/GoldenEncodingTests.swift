import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITMIPS32
import Foundation
import Testing

/// Every instruction form the MIPS32 encoder emits, checked word for word
/// against LLVM's assembler (`llvm-mc -triple=mipsel -mcpu=mips32r2
/// --show-encoding`, and `-triple=mips` for the big-endian byte order),
/// with `.set noreorder`/`noat`/`nomacro` so each line is exactly one
/// instruction and delay slots are as written.
@Suite struct GoldenEncodingTests {

    /// Emits each form into its own slice of one buffer.
    final class Collector {
        let asm = JITAssembler<MIPS32Branch>(instructionCount: 0, functionCount: 0, capacityHint: 1 << 16, padder: { _, _ in })
        let bigEndian: Bool, release6: Bool
        var forms: [(text: String, start: Int, end: Int)] = []
        var e: MIPS32Encoder { MIPS32Encoder(asm, bigEndian: bigEndian, release6: release6) }

        init(bigEndian: Bool, release6: Bool = false) {
            self.bigEndian = bigEndian
            self.release6 = release6
        }

        func add(_ text: String, _ emit: (MIPS32Encoder) -> Void) {
            let start = asm.code.count
            emit(e)
            forms.append((text, start, asm.code.count))
        }

        func collect() -> [(text: String, bytes: [UInt8])] {
            asm.resolveFixups()
            #expect(asm.code.poisoned == nil, "poisoned: \(asm.code.poisoned ?? "")")
            let bytes = asm.code.bytes
            return forms.map { ($0.text, Array(bytes[$0.start..<$0.end])) }
        }
    }

    static let sample: [MIPS32Register] = [.zero, .at, .v0, .v1, .a0, .a3, .t0, .t5, .t6, .t9, .s0, .s7, .gp, .sp, .fp, .ra]
    static let immediates: [Int16] = [0, 1, -1, 0x7fff, -0x8000, 512, -512]

    static func forms(bigEndian: Bool) -> [(text: String, bytes: [UInt8])] {
        let c = Collector(bigEndian: bigEndian)
        typealias Three = (MIPS32Encoder) -> (MIPS32Register, MIPS32Register, MIPS32Register) -> Void
        let three: [(String, Three)] = [
            ("addu", { $0.addu }), ("subu", { $0.subu }), ("and", { $0.and }), ("or", { $0.or }), ("xor", { $0.xor }),
            ("nor", { $0.nor }), ("slt", { $0.slt }), ("sltu", { $0.sltu }), ("movz", { $0.movz }), ("movn", { $0.movn }),
            ("mul", { $0.mul }),
        ]
        for (name, op) in three {
            for d in sample where d != .zero {
                for (s, t) in [(MIPS32Register.v0, MIPS32Register.a1), (.t6, .zero), (.s3, .ra), (.zero, .t9)] {
                    c.add("\(name) \(d), \(s), \(t)") { op($0)(d, s, t) }
                }
            }
        }
        let variable: [(String, Three)] = [("sllv", { $0.sllv }), ("srlv", { $0.srlv }), ("srav", { $0.srav })]
        for (name, op) in variable {
            for d in [MIPS32Register.v0, .t7, .s5] {
                c.add("\(name) \(d), \(MIPS32Register.a2), \(MIPS32Register.t6)") { op($0)(d, .a2, .t6) }
            }
        }
        typealias Shift = (MIPS32Encoder) -> (MIPS32Register, MIPS32Register, UInt32) -> Void
        let shifts: [(String, Shift)] = [("sll", { $0.sll }), ("srl", { $0.srl }), ("sra", { $0.sra }), ("rotr", { $0.rotr })]
        for (name, op) in shifts {
            for amount: UInt32 in [1, 8, 16, 31] {
                for d in [MIPS32Register.v1, .t6, .s7] {
                    c.add("\(name) \(d), \(MIPS32Register.a3), \(amount)") { op($0)(d, .a3, amount) }
                }
            }
        }
        typealias Two = (MIPS32Encoder) -> (MIPS32Register, MIPS32Register) -> Void
        for (name, op) in [("multu", { $0.multu }), ("div $zero,", { $0.div }), ("divu $zero,", { $0.divu })] as [(String, Two)] {
            c.add("\(name) \(MIPS32Register.a0), \(MIPS32Register.t8)") { op($0)(.a0, .t8) }
            c.add("\(name) \(MIPS32Register.s2), \(MIPS32Register.v0)") { op($0)(.s2, .v0) }
        }
        for (name, op) in [("wsbh", { $0.wsbh }), ("seb", { $0.seb }), ("seh", { $0.seh })] as [(String, Two)] {
            for (d, s) in [(MIPS32Register.v0, MIPS32Register.v0), (.t6, .s3), (.a1, .t9)] {
                c.add("\(name) \(d), \(s)") { op($0)(d, s) }
            }
        }
        c.add("ext $t6, $a0, 8, 16") { $0.ext(.t6, .a0, pos: 8, size: 16) }
        for d in [MIPS32Register.v0, .t6, .s4] {
            c.add("mfhi \(d)") { $0.mfhi(d) }
            c.add("mflo \(d)") { $0.mflo(d) }
            for imm in immediates {
                c.add("addiu \(d), \(MIPS32Register.sp), \(imm)") { $0.addiu(d, .sp, imm) }
                c.add("slti \(d), \(MIPS32Register.a2), \(imm)") { $0.slti(d, .a2, imm) }
                c.add("sltiu \(d), \(MIPS32Register.a2), \(imm)") { $0.sltiu(d, .a2, imm) }
            }
            for imm: UInt16 in [0, 1, 0xff, 0x8000, 0xffff] {
                c.add("andi \(d), \(MIPS32Register.t1), \(imm)") { $0.andi(d, .t1, imm) }
                c.add("ori \(d), \(MIPS32Register.t1), \(imm)") { $0.ori(d, .t1, imm) }
                c.add("xori \(d), \(MIPS32Register.t1), \(imm)") { $0.xori(d, .t1, imm) }
                c.add("lui \(d), \(imm)") { $0.lui(d, imm) }
            }
        }
        // Constants: one or two instructions.
        for value: UInt32 in [0, 1, 0xffff, 0x1_0000, 0xffff_8000, 0xffff_ffff, 0x1234_5678, 0x8000_0000] {
            let text: String
            if value <= 0xffff { text = "ori $t8, $zero, \(value)" }
            else if Int32(bitPattern: value) < 0 && Int32(bitPattern: value) >= -0x8000 { text = "addiu $t8, $zero, \(Int32(bitPattern: value))" }
            else { text = "lui $t8, \(value >> 16)" + (value & 0xffff != 0 ? "\nori $t8, $t8, \(value & 0xffff)" : "") }
            c.add(text) { $0.load(.t8, value) }
        }
        typealias Access = (MIPS32Encoder) -> (MIPS32Register, Int16, MIPS32Register) -> Void
        let accesses: [(String, Access)] = [
            ("lb", { $0.lb }), ("lbu", { $0.lbu }), ("lh", { $0.lh }), ("lhu", { $0.lhu }), ("lw", { $0.lw }),
            ("sb", { $0.sb }), ("sh", { $0.sh }), ("sw", { $0.sw }), ("lwl", { $0.lwl }), ("lwr", { $0.lwr }),
            ("swl", { $0.swl }), ("swr", { $0.swr }), ("ll", { $0.ll }), ("sc", { $0.sc }),
        ]
        for (name, op) in accesses {
            for (t, base) in [(MIPS32Register.v0, MIPS32Register.fp), (.s7, .t7), (.t8, .sp), (.a1, .a0)] {
                for offset: Int16 in [0, 4, -8, 0x7ff8, -0x8000] {
                    c.add("\(name) \(t), \(offset)(\(base))") { op($0)(t, offset, base) }
                }
            }
        }
        c.add("sync") { $0.sync() }
        c.add("break") { $0.brk() }
        c.add("nop") { $0.nop() }
        c.add("jr $ra\nnop") { $0.jr(.ra) }
        c.add("jalr $t9\nnop") { $0.jalr(.t9) }
        c.add("lui $t9, 4660\nori $t9, $t9, 22136\njalr $t9\nnop") { $0.callAbsolute(0x1234_5678) }
        // Short branches to labels a few words on (offsets from the delay slot).
        for (eq, s, t) in [(true, MIPS32Register.t6, MIPS32Register.zero), (false, .a0, .t8), (true, .zero, .zero)] {
            let name = eq ? "beq" : "bne"
            c.add("\(name) \(s), \(t), 12\nnop\nnop\nnop") { e in
                let label = e.asm.makeLabel()
                e.branch(label, eq: eq, s, t)
                e.nop(); e.nop()
                e.asm.bind(label)
            }
            c.add("nop\n\(name) \(s), \(t), -8\nnop") { e in
                let label = e.asm.makeLabel()
                e.asm.bind(label)
                e.nop()
                e.branch(label, eq: eq, s, t)
            }
        }
        c.add("bal 8\nnop\nnop") { e in
            let label = e.asm.makeLabel()
            e.bal(label)
            e.nop()
            e.asm.bind(label)
        }
        return c.collect()
    }

    /// The backend test kit's llvm-mc driver for MIPS32 in either byte order
    /// (its warnings, such as on delay slots, are not failures).
    static func llvm(bigEndian: Bool, cpu: String = "mips32r2") -> LLVMMC {
        LLVMMC(triple: bigEndian ? "mips" : "mipsel", cpu: cpu, prologue: [".set noreorder", ".set noat", ".set nomacro"],
               diagnosticsFail: false)
    }

    @Test(arguments: [false, true]) func everyFormMatchesLLVM(bigEndian: Bool) throws {
        guard LLVMMC.isInstalled else {
            Issue.record("\(LLVMMC.path) is missing: install Debian's llvm-14")
            return
        }
        let forms = Self.forms(bigEndian: bigEndian)
        let (lines, failures) = try Self.llvm(bigEndian: bigEndian).check(forms)
        print("MIPS32 golden encodings (\(bigEndian ? "mips" : "mipsel")): \(forms.count) forms (\(lines) instructions), \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }
}
