import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITArm32
import Foundation
import Testing

/// Every instruction form the arm32 encoder emits, checked word for word
/// against LLVM's assembler (`llvm-mc -triple=armv7 -mattr=+v7,+hwdiv-arm
/// --show-encoding`; `hwdiv-arm` is LLVM 14's name for UDIV/SDIV in A32).
@Suite struct GoldenEncodingTests {
    /// Emits each form into its own slice of one buffer.
    final class Collector {
        let asm = JITAssembler<Arm32Branch>(instructionCount: 0, functionCount: 0, capacityHint: 1 << 16, padder: { _, _ in })
        var forms: [(text: String, start: Int, end: Int)] = []
        var e: Arm32Encoder { Arm32Encoder(asm) }

        func add(_ text: String, _ emit: (Arm32Encoder) -> Void) {
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

    static let registers: [Arm32Register] = (0..<15).map { Arm32Register(UInt32($0)) }
    static let sample: [Arm32Register] = [.r0, .r3, .r4, .r9, .r10, .r12, .lr]
    static let immediates: [UInt32] = [0, 1, 31, 32, 63, 255, 256, 512, 0x3fc, 0xff00_0000, 0xf000_000f, 0x0003_fc00, 0x8000_0000]

    static func forms() -> [(text: String, bytes: [UInt8])] {
        let c = Collector()
        dataProcessing(c)
        multiplyAndExtend(c)
        memory(c)
        control(c)
        return c.collect()
    }

    static func dataProcessing(_ c: Collector) {
        for op in Arm32DataOp.allCases {
            for d in sample {
                for n in [Arm32Register.r0, .r3, .r11, .sp] {
                    for operand in operands(d) {
                        for s in op.isCompare ? [false] : [false, true] {
                            let name = op.name + (s ? "s" : "")
                            let text = op.isCompare ? "\(name) \(n), \(operand.text)"
                                : op.isMove ? "\(name) \(d), \(operand.text)" : "\(name) \(d), \(n), \(operand.text)"
                            // sp is only an operand of add/sub/mov/cmp in the forms emitted.
                            if n == .sp && ![.add, .sub, .cmp].contains(op) { continue }
                            if case .shiftedBy = operand, n == .sp || d == .sp { continue }
                            c.add(text) { $0.dp(op, d, n, operand, s: s) }
                        }
                    }
                }
            }
        }
        for cond in Arm32Condition.allCases {
            c.add("orr\(cond.name) r0, r0, r1, asr lr") { $0.dp(.orr, .r0, .r0, .shiftedBy(.r1, .asr, .lr), cond: cond) }
            c.add("cmp\(cond.name) r0, r2") { $0.cmp(.r0, .register(.r2), cond: cond) }
            c.add("tst\(cond.name) r5, r3") { $0.tst(.r5, .register(.r3), cond: cond) }
        }
        for d in registers where d != .sp {
            for value: UInt16 in [0, 1, 0x1234, 0xffff, 0x8000] {
                c.add("movw \(d), #\(value)") { $0.movw(d, value) }
                c.add("movt \(d), #\(value)") { $0.movt(d, value) }
            }
        }
        c.add("mov sp, r11") { $0.mov(.sp, .r11) }
        c.add("mov r11, sp") { $0.mov(.r11, .sp) }
        c.add("mov r12, sp") { $0.mov(.r12, .sp) }
        c.add("mov r10, sp") { $0.mov(.r10, .sp) }
    }

    static func operands(_ d: Arm32Register) -> [Arm32Operand] {
        var result: [Arm32Operand] = immediates.map { .immediate(Arm32Immediate($0)!) }
        for m in [Arm32Register.r1, .r5, .r12, .lr] {
            result.append(.register(m))
            for shift in Arm32Shift.allCases {
                for amount: UInt32 in [1, 16, 31] { result.append(.register(m, shift, amount)) }
                result.append(.shiftedBy(m, shift, .r12))
                result.append(.shiftedBy(m, shift, .r2))
            }
        }
        return result
    }

    static func multiplyAndExtend(_ c: Collector) {
        let low: [Arm32Register] = [.r0, .r1, .r4, .r9, .r12, .lr]
        for d in low {
            for n in low {
                for m in [Arm32Register.r2, .r5, .r3] {
                    c.add("mul \(d), \(n), \(m)") { $0.mul(d, n, m) }
                    c.add("mla \(d), \(n), \(m), lr") { $0.mla(d, n, m, .lr) }
                    c.add("mls \(d), \(n), \(m), r0") { $0.mls(d, n, m, .r0) }
                    c.add("udiv \(d), \(n), \(m)") { $0.udiv(d, n, m) }
                    c.add("sdiv \(d), \(n), \(m)") { $0.sdiv(d, n, m) }
                }
                c.add("rev \(d), \(n)") { $0.rev(d, n) }
                c.add("rev16 \(d), \(n)") { $0.rev16(d, n) }
                c.add("sxtb \(d), \(n)") { $0.sxtb(d, n) }
                c.add("sxth \(d), \(n)") { $0.sxth(d, n) }
                c.add("uxtb \(d), \(n)") { $0.uxtb(d, n) }
                c.add("uxth \(d), \(n)") { $0.uxth(d, n) }
            }
        }
        c.add("umull r12, lr, r0, r2") { $0.umull(.r12, .lr, .r0, .r2) }
        c.add("umull r12, lr, r4, r8") { $0.umull(.r12, .lr, .r4, .r8) }
        c.add("umull r0, r1, r2, r3") { $0.umull(.r0, .r1, .r2, .r3) }
    }

    static func memory(_ c: Collector) {
        for op in Arm32Encoder.Access.allCases {
            let pair = op == .ldrd || op == .strd
            let offsets = [0, 4, -8, 255, -255, 16, 64] + (op.offsetLimit == 4095 ? [4095, -4095, 112] : [])
            for t in pair ? [Arm32Register.r0, .r2, .r4, .r8, .r12] : [.r0, .r1, .r9, .r12, .lr] {
                for n in [Arm32Register.r11, .r12, .sp, .r10, .lr] {
                    for offset in offsets {
                        let operand = offset == 0 ? "[\(n)]" : "[\(n), #\(offset)]"
                        let registers = pair ? "\(t), \(Arm32Register(t.number + 1))" : "\(t)"
                        c.add("\(op.name) \(registers), \(operand)") { $0.access(op, t, n, offset: offset) }
                    }
                }
            }
        }
        let lists: [[Arm32Register]] = [[.r4, .r5, .r6, .r7, .r8, .r9, .r10, .r11, .r12, .lr],
                                        [.r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9, .r12, .lr], [.r0, .r1], [.r4, .lr]]
        // (A one-register list is assembled by LLVM as `str`/`ldr` with writeback; the backend pushes several.)
        for list in lists {
            let text = list.map(\.description).joined(separator: ", ")
            c.add("push {\(text)}") { $0.push(list) }
            c.add("pop {\(text)}") { $0.pop(list) }
        }
        for n in [Arm32Register.r12, .r0, .r3] {
            c.add("ldrex r0, [\(n)]") { $0.ldrex(.r0, n) }
            c.add("strex lr, r1, [\(n)]") { $0.strex(.lr, .r1, n) }
            c.add("strex lr, r4, [\(n)]") { $0.strex(.lr, .r4, n) }
            c.add("ldrexd r0, r1, [\(n)]") { $0.ldrexd(.r0, n) }
            c.add("strexd lr, r2, r3, [\(n)]") { $0.strexd(.lr, .r2, n) }
        }
        c.add("dmb ish") { $0.dmbISH() }
    }

    static func control(_ c: Collector) {
        // Label branches: the label sits `distance` bytes from the branch; llvm-mc's
        // `b #imm` is the displacement from the branch's address plus 8.
        for cond in Arm32Condition.allCases {
            for distance in [-64, 0, 8, 4096] {
                c.add("b\(cond.name) #\(distance - 8)") { e in
                    let label = e.asm.makeLabel()
                    if distance <= 0 {
                        // Bind first, `-distance` bytes of nops before the branch.
                        e.asm.bind(label)
                        for _ in 0..<(-distance / 4) { e.nop() }
                        e.b(label, cond: cond)
                    } else {
                        e.b(label, cond: cond)
                        for _ in 0..<(distance / 4 - 1) { e.nop() }
                        e.asm.bind(label)
                    }
                }
            }
        }
        c.add("bl #-8") { e in
            let label = e.asm.makeLabel()
            e.asm.bind(label)
            e.bl(label)
        }
        for displacement: Int64 in [0, 8, -8, 0x1ff_fff8, -0x200_0000, 0x12340] {
            c.add("bl #\(displacement)") { $0.bl(absolute: UInt64(bitPattern: 0x20000 + 8 + displacement), from: 0x20000) }
        }
        for m in [Arm32Register.r12, .lr, .r0] {
            c.add("blx \(m)") { $0.blx(m) }
            c.add("bx \(m)") { $0.bx(m) }
        }
        c.add("nop") { $0.nop() }
        c.add("udf #0") { $0.udf(0) }
        c.add("udf #4660") { $0.udf(0x1234) }
    }

    /// The backend test kit's llvm-mc driver for A32.
    static let llvm = LLVMMC(triple: "armv7", attributes: ["+v7", "+hwdiv-arm"])

    @Test func everyFormMatchesLLVM() throws {
        guard LLVMMC.isInstalled else {
            print("skipped: \(LLVMMC.path) not found (Debian package llvm)")
            return
        }
        let forms = Self.forms()
        // Branch forms carry nops around the branch word; the branch word is compared.
        let (lines, failures) = try Self.llvm.check(forms, padding: [0x00, 0xf0, 0x20, 0xe3])
        print("arm32 encoder: \(forms.count) forms (\(lines) instructions) checked against llvm-mc, \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    @Test func unencodableOperandsPoisonThePass() {
        for (name, emit) in [("ldrh offset 256", { (e: Arm32Encoder) in e.access(.ldrh, .r0, .r1, offset: 256) }),
                             ("ldr offset 4096", { (e: Arm32Encoder) in e.access(.ldr, .r0, .r1, offset: 4096) }),
                             ("ldrd odd register", { (e: Arm32Encoder) in e.access(.ldrd, .r1, .r2) })] {
            let c = Collector()
            emit(c.e)
            #expect(c.asm.code.poisoned != nil, "\(name) was accepted")
        }
        #expect(Arm32Immediate(0x101) == nil)
        #expect(Arm32Immediate(0xff0) != nil)
    }
}
