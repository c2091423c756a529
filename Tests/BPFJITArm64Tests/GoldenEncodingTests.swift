import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFNativeDisassembler
import Foundation
import Testing

/// Every instruction form the arm64 encoder emits, checked word for word
/// against LLVM's assembler (`llvm-mc -triple=aarch64 -mattr=+lse --show-encoding`).
@Suite struct GoldenEncodingTests {
    struct Form {
        let text: String
        let bytes: [UInt8]
    }


    /// Emits each form into its own slice of one buffer.
    final class Collector {
        let asm = JITAssembler<Arm64Branch>(instructionCount: 0, functionCount: 0, capacityHint: 1 << 16, padder: { _, _ in })
        var forms: [(text: String, start: Int, end: Int)] = []
        var e: Arm64Encoder { Arm64Encoder(asm) }

        func add(_ text: String, _ emit: (Arm64Encoder) -> Void) {
            let start = asm.code.count
            emit(e)
            forms.append((text, start, asm.code.count))
        }

        func collect() -> [Form] {
            asm.resolveFixups()
            #expect(asm.code.poisoned == nil, "poisoned: \(asm.code.poisoned ?? "")")
            let bytes = asm.code.bytes
            return forms.map { Form(text: $0.text, bytes: Array(bytes[$0.start..<$0.end])) }
        }
    }

    static let sizes: [Arm64Size] = [.w, .x]
    /// Every register number but 31, plus the zero register where it is an operand.
    static let registers: [Arm64Register] = (0..<31).map { Arm64Register.x(UInt32($0)) }
    static let sample: [Arm64Register] = [.x(0), .x(7), .x(9), .x(16), .x(25), .x(30)]
    static let logicalValues: [UInt64] = [1, 0xff, 0xff00, 0x5555_5555_5555_5555, 0xffff_fffe, 0x8000_0000,
                                          0x0f0f_0f0f, 0xffff_0000_ffff_0000, 0x7fff_ffff_ffff_ffff, 0xffff_ffff_0000_0000, 6, 0xc000_0003]

    static func forms() -> [Form] {
        let c = Collector()
        arithmetic(c)
        logical(c)
        moves(c)
        multiplyShiftsAndBitfields(c)
        memory(c)
        atomics(c)
        control(c)
        return c.collect()
    }

    static func arithmetic(_ c: Collector) {
        for s in sizes {
            for d in registers {
                for n in sample {
                    c.add("add \(d.name(s)), \(n.name(s)), \(n.name(s))") { $0.add(s, d, n, n) }
                    c.add("sub \(d.name(s)), \(n.name(s)), \(d.name(s))") { $0.sub(s, d, n, d) }
                    c.add("subs \(d.name(s)), \(d.name(s)), \(n.name(s))") { $0.subs(s, d, d, n) }
                    c.add("cmp \(d.name(s)), \(n.name(s))") { $0.cmp(s, d, n) }
                    c.add("neg \(d.name(s)), \(n.name(s))") { $0.neg(s, d, n) }
                }
                for value: UInt64 in [0, 1, 4095, 4096, 0xfff000, 0x12000] {
                    let imm = ArithmeticImmediate(value)!
                    let text = imm.shifted ? "#\(imm.imm12), lsl #12" : "#\(value)"
                    c.add("add \(d.nameSP(s)), \(d.nameSP(s)), \(text)") { $0.add(s, d, d, imm) }
                    c.add("sub \(d.nameSP(s)), \(Arm64Register.x(3).nameSP(s)), \(text)") { $0.sub(s, d, .x(3), imm) }
                    c.add("adds \(d.name(s)), \(d.nameSP(s)), \(text)") { $0.adds(s, d, d, imm) }
                    c.add("subs \(d.name(s)), \(d.nameSP(s)), \(text)") { $0.subs(s, d, d, imm) }
                    c.add("cmp \(d.nameSP(s)), \(text)") { $0.cmp(s, d, imm) }
                    c.add("cmn \(d.nameSP(s)), \(text)") { $0.cmn(s, d, imm) }
                }
            }
            for value: UInt64 in [16, 512, 4096, 4144 & ~0xfff] {
                let imm = ArithmeticImmediate(value)!
                let text = imm.shifted ? "#\(imm.imm12), lsl #12" : "#\(value)"
                c.add("add sp, sp, \(text)") { $0.add(.x, .sp, .sp, imm) }
                c.add("sub sp, sp, \(text)") { $0.sub(.x, .sp, .sp, imm) }
            }
        }
        for r in registers {
            c.add("mov \(r.name(.x)), sp") { $0.movSP(r, .sp) }
            c.add("mov sp, \(r.name(.x))") { $0.movSP(.sp, r) }
        }
    }

    static func logical(_ c: Collector) {
        for s in sizes {
            for d in registers {
                for m in sample + [.zr] {
                    c.add("and \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.and(s, d, d, m) }
                    c.add("orr \(d.name(s)), \(Arm64Register.x(5).name(s)), \(m.name(s))") { $0.orr(s, d, .x(5), m) }
                    c.add("eor \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.eor(s, d, d, m) }
                    c.add("orn \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.orn(s, d, d, m) }
                    c.add("ands \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.ands(s, d, d, m) }
                    c.add("tst \(d.name(s)), \(m.name(s))") { $0.tst(s, d, m) }
                    c.add("mov \(d.name(s)), \(m.name(s))") { $0.mov(s, d, m) }
                    c.add("mvn \(d.name(s)), \(m.name(s))") { $0.mvn(s, d, m) }
                }
            }
            for value in logicalValues {
                guard let imm = LogicalImmediate(value, size: s) else { continue }
                let v = s == .w ? value & 0xffff_ffff : value
                let text = "#0x" + String(v, radix: 16)
                for d in sample {
                    c.add("and \(d.name(s)), \(d.name(s)), \(text)") { $0.and(s, d, d, imm) }
                    c.add("orr \(d.name(s)), \(Arm64Register.zr.name(s)), \(text)") { $0.orr(s, d, .zr, imm) }
                    c.add("eor \(d.name(s)), \(d.name(s)), \(text)") { $0.eor(s, d, d, imm) }
                    c.add("ands \(d.name(s)), \(d.name(s)), \(text)") { $0.ands(s, d, d, imm) }
                    c.add("tst \(d.name(s)), \(text)") { $0.tst(s, d, imm) }
                }
            }
        }
    }

    static func moves(_ c: Collector) {
        for s in sizes {
            for d in registers {
                for imm: UInt16 in [0, 1, 0x1234, 0xffff] {
                    for shift in MoveWideShift.allCases where s == .x || shift.rawValue < 2 {
                        c.add("movz \(d.name(s)), #\(imm), lsl #\(shift.amount)") { $0.movz(s, d, imm, shift) }
                        c.add("movn \(d.name(s)), #\(imm), lsl #\(shift.amount)") { $0.movn(s, d, imm, shift) }
                        c.add("movk \(d.name(s)), #\(imm), lsl #\(shift.amount)") { $0.movk(s, d, imm, shift) }
                    }
                }
            }
        }
    }

    static func multiplyShiftsAndBitfields(_ c: Collector) {
        for s in sizes {
            for d in registers {
                let n = Arm64Register.x(11), m = Arm64Register.x(3)
                c.add("madd \(d.name(s)), \(n.name(s)), \(m.name(s)), \(d.name(s))") { $0.madd(s, d, n, m, d) }
                c.add("msub \(d.name(s)), \(n.name(s)), \(m.name(s)), \(d.name(s))") { $0.msub(s, d, n, m, d) }
                c.add("mul \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.mul(s, d, d, m) }
                c.add("udiv \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.udiv(s, d, d, m) }
                c.add("sdiv \(d.name(s)), \(n.name(s)), \(d.name(s))") { $0.sdiv(s, d, n, d) }
                c.add("lsl \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.lslv(s, d, d, m) }
                c.add("lsr \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.lsrv(s, d, d, m) }
                c.add("asr \(d.name(s)), \(d.name(s)), \(m.name(s))") { $0.asrv(s, d, d, m) }
                for amount: UInt32 in [1, 7, 31] + (s == .x ? [32, 63] : []) {
                    c.add("lsl \(d.name(s)), \(d.name(s)), #\(amount)") { $0.lsl(s, d, d, amount) }
                    c.add("lsr \(d.name(s)), \(d.name(s)), #\(amount)") { $0.lsr(s, d, d, amount) }
                    c.add("asr \(d.name(s)), \(d.name(s)), #\(amount)") { $0.asr(s, d, d, amount) }
                }
                c.add("sxtb \(d.name(s)), \(m.name(.w))") { $0.signExtend(s, d, m, bits: 8) }
                c.add("sxth \(d.name(s)), \(m.name(.w))") { $0.signExtend(s, d, m, bits: 16) }
                c.add("rev16 \(d.name(s)), \(d.name(s))") { $0.rev16(s, d, d) }
                c.add("rev \(d.name(s)), \(d.name(s))") { $0.rev(s, d, d) }
            }
        }
        for d in registers {
            c.add("sxtw \(d.name(.x)), \(d.name(.w))") { $0.signExtend(.x, d, d, bits: 32) }
            c.add("uxth \(d.name(.w)), \(d.name(.w))") { $0.zeroExtend(d, d, bits: 16) }
        }
    }

    static func memory(_ c: Collector) {
        let bases: [Arm64Register] = [.x(0), .x(9), .x(25), .x(26), .sp]
        for size in AccessSize.allCases {
            let bytes = Int(size.rawValue)
            let suffix = ["b", "h", "", ""][[1, 2, 4, 8].firstIndex(of: bytes)!]
            let wide = size == .double ? Arm64Size.x : .w
            for base in bases {
                for t in [Arm64Register.x(1), .x(7), .x(19), .x(30), .zr] {
                    let rt = t.name(wide), rn = base.nameSP()
                    for offset in [0, bytes, 4095 * bytes] {
                        c.add("ldr\(suffix) \(rt), [\(rn), #\(offset)]") { $0.ldr(size, t, base, offset: offset) }
                        c.add("str\(suffix) \(rt), [\(rn), #\(offset)]") { $0.str(size, t, base, offset: offset) }
                    }
                    for offset in [-256, -1, 3, 255] {
                        c.add("ldur\(suffix) \(rt), [\(rn), #\(offset)]") { $0.ldur(size, t, base, offset: offset) }
                        c.add("stur\(suffix) \(rt), [\(rn), #\(offset)]") { $0.stur(size, t, base, offset: offset) }
                    }
                    c.add("ldr\(suffix) \(rt), [\(rn), x10]") { $0.ldr(size, t, base, index: .x(10)) }
                    c.add("str\(suffix) \(rt), [\(rn), x10]") { $0.str(size, t, base, index: .x(10)) }
                    if size != .double {
                        let xt = t.name(.x)
                        c.add("ldrs\(suffix.isEmpty ? "w" : suffix) \(xt), [\(rn), #\(bytes)]") { $0.ldr(size, t, base, offset: bytes, .signExtend) }
                        c.add("ldurs\(suffix.isEmpty ? "w" : suffix) \(xt), [\(rn), #-3]") { $0.ldur(size, t, base, offset: -3, .signExtend) }
                        c.add("ldrs\(suffix.isEmpty ? "w" : suffix) \(xt), [\(rn), x10]") { $0.ldr(size, t, base, index: .x(10), .signExtend) }
                    }
                }
            }
        }
        c.add("ldr x13, [x11], #16") { $0.ldrPostIndex(.double, .x(13), .x(11), offset: 16) }
        for (a, b) in [(Arm64Register.fp, Arm64Register.lr), (.x(19), .x(20)), (.x(27), .zr), (.x(0), .x(1)), (.zr, .zr)] {
            for offset in [-512, -16, 0, 16, 64, 504] {
                c.add("stp \(a.name(.x)), \(b.name(.x)), [sp, #\(offset)]") { $0.stp(a, b, .sp, offset: offset) }
                c.add("stp \(a.name(.x)), \(b.name(.x)), [sp, #\(offset)]!") { $0.stp(a, b, .sp, offset: offset, .preIndex) }
                c.add("stp \(a.name(.x)), \(b.name(.x)), [x10], #\(offset)") { $0.stp(a, b, .x(10), offset: offset, .postIndex) }
                if a != b {
                    c.add("ldp \(a.name(.x)), \(b.name(.x)), [sp, #\(offset)]") { $0.ldp(a, b, .sp, offset: offset) }
                    c.add("ldp \(a.name(.x)), \(b.name(.x)), [sp], #\(offset)") { $0.ldp(a, b, .sp, offset: offset, .postIndex) }
                }
            }
        }
    }

    static func atomics(_ c: Collector) {
        for size in [AccessSize.word, .double] {
            let s: Arm64Size = size == .double ? .x : .w
            for address in [Arm64Register.x(9), .x(0), .x(25)] {
                for value in [Arm64Register.x(1), .x(7), .x(10)] {
                    let n = address.name(.x), v = value.name(s)
                    c.add("ldxr \(v), [\(n)]") { $0.ldxr(size, value, address) }
                    c.add("ldaxr \(v), [\(n)]") { $0.ldxr(size, value, address, acquire: true) }
                    c.add("stxr w12, \(v), [\(n)]") { $0.stxr(size, status: .x(12), value, address) }
                    c.add("stlxr w12, \(v), [\(n)]") { $0.stxr(size, status: .x(12), value, address, release: true) }
                    for operation in Arm64Encoder.AtomicMemoryOperation.allCases {
                        for old in [value, Arm64Register.zr] where !(operation == .swap && old == .zr) {
                            c.add("\(operation.mnemonic)al \(v), \(old.name(s)), [\(n)]") { $0.atomic(operation, size, value, old, address) }
                        }
                    }
                    c.add("casal \(Arm64Register.x(10).name(s)), \(v), [\(n)]") { $0.casal(size, .x(10), value, address) }
                }
            }
        }
        c.add("dmb ish") { $0.dmbISH() }
    }

    static func control(_ c: Collector) {
        // Branches to labels, short forms: the label follows at a known distance.
        for distance in [4, 64, 4096] {
            func target(_ e: Arm64Encoder, _ emit: (Label) -> Void) {
                let label = e.asm.makeLabel()
                emit(label)
                for _ in 0..<(distance / 4 - 1) { e.nop() }
                e.asm.bind(label)
            }
            // Only the branch word is the form; the nops after it are checked as nops.
            c.add("b #\(distance)") { e in target(e) { e.b($0) } }
            c.add("bl #\(distance)") { e in target(e) { e.bl($0) } }
            c.add("adr x11, #\(distance)") { e in target(e) { e.adr(.x(11), $0) } }
            for condition in Arm64Condition.allCases.filter({ $0 != .al }) {
                c.add("b.\(condition.mnemonic) #\(distance)") { e in target(e) { e.b(condition, $0) } }
            }
            for s in sizes {
                c.add("cbz \(Arm64Register.x(3).name(s)), #\(distance)") { e in target(e) { e.cbz(s, .x(3), $0) } }
                c.add("cbnz \(Arm64Register.x(21).name(s)), #\(distance)") { e in target(e) { e.cbnz(s, .x(21), $0) } }
            }
            for bit: UInt32 in [0, 5, 31, 32, 63] {
                let r = Arm64Register.x(4).name(bit < 32 ? .w : .x)
                c.add("tbz \(r), #\(bit), #\(distance)") { e in target(e) { e.tbz(.x(4), bit: bit, $0) } }
                c.add("tbnz \(r), #\(bit), #\(distance)") { e in target(e) { e.tbnz(.x(4), bit: bit, $0) } }
            }
        }
        // Backward branches, and the long forms: a label 2 MiB behind is out of imm19 and imm14 range.
        let behind = c.asm.makeLabel()
        c.asm.bind(behind)
        let origin = c.asm.code.count
        c.add("b.ne #-4") { e in e.nop(); e.b(.ne, behind) }
        for _ in 0..<(2 << 20) / 4 { c.e.nop() }
        func back(_ words: Int) -> Int { origin - (c.asm.code.count + 4 * words) }
        c.add("b.ne #8\nb #\(back(1))") { e in e.b(.eq, behind) }
        c.add("cbz x3, #8\nb #\(back(1))") { e in e.cbnz(.x, .x(3), behind) }
        c.add("cbnz w3, #8\nb #\(back(1))") { e in e.cbz(.w, .x(3), behind) }
        c.add("tbz w4, #2, #8\nb #\(back(1))") { e in e.tbnz(.x(4), bit: 2, behind) }
        c.add("tbnz x4, #40, #8\nb #\(back(1))") { e in e.tbz(.x(4), bit: 40, behind) }
        for target: UInt64 in [0x1000_0000, 0x1000_0000 + (1 << 27) - 4, 0x1000_0000 - (1 << 27)] {
            let here: UInt64 = 0x1000_0000
            c.add("bl #\(Int64(bitPattern: target &- here))") { $0.bl(absolute: target, from: here) }
        }
        for r in [Arm64Register.x(16), .x(13), .x(0)] {
            c.add("br \(r.name(.x))") { $0.br(r) }
            c.add("blr \(r.name(.x))") { $0.blr(r) }
        }
        c.add("ret") { $0.ret() }
        c.add("nop") { $0.nop() }
        c.add("brk #0") { $0.brk(0) }
        c.add("brk #0xbad") { $0.brk(0xbad) }
    }

    /// The backend test kit's llvm-mc driver for A64 with the LSE atomics.
    static let llvm = LLVMMC(triple: "aarch64", attributes: ["+lse"])

    @Test func everyFormMatchesLLVM() throws {
        guard LLVMMC.isInstalled else {
            print("skipped: \(LLVMMC.path) not found (Debian package llvm)")
            return
        }
        let forms = Self.forms()
        // A form's text may hold several instructions (long branches); padding nops
        // around a branch are part of its bytes but not of its text.
        let (lines, failures) = try Self.llvm.check(forms.map { ($0.text, $0.bytes) }, padding: [0x1f, 0x20, 0x03, 0xd5])
        print("arm64 encoder: \(forms.count) forms (\(lines) instructions) checked against llvm-mc, \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }

    /// Capstone 4 predates the LSE atomics; the listing names them itself.
    /// Its text must be what `llvm-mc --disassemble` prints for the same words.
    @Test func lseAtomicsDisassembleAsLLVMDoes() throws {
        guard LLVMMC.isInstalled else { return }
        let c = Collector()
        Self.atomics(c)
        let lse = ["ldadd", "ldclr", "ldeor", "ldset", "swp", "cas"]
        let words = c.collect().filter { form in lse.contains { form.text.hasPrefix($0) } }.map(\.bytes)
        #expect(words.count > 50)
        let disassembler = try NativeDisassembler(.arm64)
        let ours = words.map { disassembler.disassemble($0, address: 0).map(\.text).joined() }
        let lines = try Self.llvm.disassemble(words)
        try #require(lines.count == ours.count)
        for (mine, llvm) in zip(ours, lines) {
            #expect(mine == llvm.replacingOccurrences(of: "\t", with: " "), "\(mine) vs \(llvm)")
        }
    }

    @Test func unencodableOperandsPoisonThePass() {
        let asm = JITAssembler<Arm64Branch>(instructionCount: 0, functionCount: 0, capacityHint: 64, padder: { _, _ in })
        let e = Arm64Encoder(asm)
        e.ldr(.double, .x(0), .x(1), offset: 4)             // not a multiple of 8
        #expect(asm.code.poisoned != nil)
        #expect(asm.code.count == 4, "a poisoned form keeps its size")
        for (make, name) in [({ (e: Arm64Encoder) in e.stur(.word, .x(0), .x(1), offset: 256) }, "stur"),
                             ({ e in e.stp(.x(0), .x(1), .sp, offset: 12) }, "stp"),
                             ({ e in e.movz(.w, .x(0), 1, .lsl32) }, "movz w lsl 32"),
                             ({ e in e.lsl(.w, .x(0), .x(0), 32) }, "lsl w #32"),
                             ({ e in e.bl(absolute: 0x1000_0000 + (1 << 27), from: 0x1000_0000) }, "bl out of range"),
                             ({ e in e.atomic(.add, .half, .x(0), .x(0), .x(1)) }, "ldaddh")] {
            let fresh = JITAssembler<Arm64Branch>(instructionCount: 0, functionCount: 0, capacityHint: 64, padder: { _, _ in })
            make(Arm64Encoder(fresh))
            #expect(fresh.code.poisoned != nil, "\(name) should poison")
        }
        #expect(ArithmeticImmediate(4097) == nil && ArithmeticImmediate(1 << 24) == nil)
        #expect(LogicalImmediate(0, size: .x) == nil && LogicalImmediate(.max, size: .x) == nil)
        #expect(LogicalImmediate(0xffff_ffff, size: .w) == nil && LogicalImmediate(0x1234, size: .x) == nil)
    }

    /// The bitmask encoder against a brute-force decoder (Arm ARM `DecodeBitMasks`).
    @Test func logicalImmediatesRoundTrip() {
        var encodable = Set<UInt64>()
        for n: UInt32 in 0...1 {
            for immr: UInt32 in 0..<64 {
                for imms: UInt32 in 0..<64 {
                    guard let value = Self.decodeBitMask(n: n, immr: immr, imms: imms) else { continue }
                    let imm = LogicalImmediate(value, size: .x)
                    #expect(imm != nil, "0x\(String(value, radix: 16)) should encode")
                    if let imm { #expect(Self.decodeBitMask(n: imm.n, immr: imm.immr, imms: imm.imms) == value) }
                    encodable.insert(value)
                }
            }
        }
        #expect(encodable.count == 5334, "the 64-bit logical immediates")
    }

    static func decodeBitMask(n: UInt32, immr: UInt32, imms: UInt32) -> UInt64? {
        let combined = n << 6 | (~imms & 0x3f)      // 7 bits: the element size is its highest set bit
        guard combined != 0 else { return nil }
        let highest = 31 - combined.leadingZeroBitCount
        guard highest >= 1 else { return nil }
        let size = 1 << highest
        let levels = UInt32(size - 1)
        let s = imms & levels, r = immr & levels
        guard s != levels else { return nil }
        let mask: UInt64 = size == 64 ? .max : (1 << UInt64(size)) - 1
        let run: UInt64 = (1 << UInt64(s + 1)) - 1
        let rotated = r == 0 ? run : ((run >> UInt64(r)) | (run << UInt64(UInt32(size) - r))) & mask
        var value: UInt64 = 0
        for k in stride(from: 0, to: 64, by: size) { value |= rotated << UInt64(k) }
        return value
    }
}
