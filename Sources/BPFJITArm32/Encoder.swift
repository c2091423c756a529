import BPFJIT

/// The A32 branch displacement field (Arm ARM A8.8.18 "B", A8.8.25 "BL"):
/// a signed 24-bit count of words measured from the branch's address plus 8
/// (the PC an A32 instruction reads), so ±32 MiB.
///
/// ```
///   B<c> / BL<c>   | cond |1 0 1|L|                 imm24                  |
///                   31  28      24 23                                    0
/// ```
///
/// Every A32 instruction is one word, so the backend never needs a second
/// (longer) form: branches inside an image always reach.
public enum Arm32Branch: BranchKind {
    case imm24

    @inline(__always)
    public func canEncode(_ displacement: Int) -> Bool {
        displacement & 3 == 0 && displacement >= -(1 << 25) && displacement < (1 << 25)
    }

    @inline(__always)
    public func patch(_ code: CodeBuffer, field: Int, displacement: Int) {
        let word = UInt32(truncatingIfNeeded: code.read(at: field, size: 4))
        code.patch(at: field, value: UInt64(word & 0xff00_0000 | UInt32(truncatingIfNeeded: displacement >> 2) & 0x00ff_ffff), size: 4)
    }
}

/// An A32 core register, r0–r15.
public struct Arm32Register: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt32
    public init(_ number: UInt32) {
        precondition(number < 16)
        self.number = number
    }

    public static let r0 = Arm32Register(0), r1 = Arm32Register(1), r2 = Arm32Register(2), r3 = Arm32Register(3)
    public static let r4 = Arm32Register(4), r5 = Arm32Register(5), r6 = Arm32Register(6), r7 = Arm32Register(7)
    public static let r8 = Arm32Register(8), r9 = Arm32Register(9), r10 = Arm32Register(10), r11 = Arm32Register(11)
    public static let r12 = Arm32Register(12), sp = Arm32Register(13), lr = Arm32Register(14), pc = Arm32Register(15)

    public var description: String {
        switch number {
        case 13: "sp"
        case 14: "lr"
        case 15: "pc"
        default: "r\(number)"
        }
    }
}

/// Condition field values (Arm ARM A8.3).
public enum Arm32Condition: UInt32, Sendable, CaseIterable {
    case eq = 0, ne, hs, lo, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al

    public var name: String {
        switch self {
        case .eq: "eq"
        case .ne: "ne"
        case .hs: "hs"
        case .lo: "lo"
        case .mi: "mi"
        case .pl: "pl"
        case .vs: "vs"
        case .vc: "vc"
        case .hi: "hi"
        case .ls: "ls"
        case .ge: "ge"
        case .lt: "lt"
        case .gt: "gt"
        case .le: "le"
        case .al: ""
        }
    }
}

/// The data-processing opcodes (Arm ARM A5.2.1), bits 24–21.
public enum Arm32DataOp: UInt32, Sendable, CaseIterable {
    case and = 0, eor, sub, rsb, add, adc, sbc, rsc, tst, teq, cmp, cmn, orr, mov, bic, mvn

    public var name: String {
        switch self {
        case .and: "and"
        case .eor: "eor"
        case .sub: "sub"
        case .rsb: "rsb"
        case .add: "add"
        case .adc: "adc"
        case .sbc: "sbc"
        case .rsc: "rsc"
        case .tst: "tst"
        case .teq: "teq"
        case .cmp: "cmp"
        case .cmn: "cmn"
        case .orr: "orr"
        case .mov: "mov"
        case .bic: "bic"
        case .mvn: "mvn"
        }
    }

    /// Compare forms: no destination, flags always set.
    public var isCompare: Bool { (8...11).contains(rawValue) }
    /// Move forms: no first operand.
    public var isMove: Bool { self == .mov || self == .mvn }
}

/// Shift types of a shifted register operand.
public enum Arm32Shift: UInt32, Sendable, CaseIterable {
    case lsl = 0, lsr, asr, ror

    public var name: String {
        switch self {
        case .lsl: "lsl"
        case .lsr: "lsr"
        case .asr: "asr"
        case .ror: "ror"
        }
    }
}

/// A data-processing immediate: 8 bits rotated right by an even amount
/// (Arm ARM A5.2.4). Values that have no such form cannot be built.
public struct Arm32Immediate: Hashable, Sendable {
    public let value: UInt32
    /// imm12: rotate (4 bits, counted in pairs) and imm8.
    public let field: UInt32

    public init?(_ value: UInt32) {
        for rotate in UInt32(0)..<16 {
            let imm8 = value.rotateLeft(2 * rotate)   // undo "rotate right by 2 * rotate"
            if imm8 <= 0xff {
                self.value = value
                field = rotate << 8 | imm8
                return
            }
        }
        return nil
    }
}

extension UInt32 {
    @inline(__always) func rotateLeft(_ n: UInt32) -> UInt32 {
        let k = n & 31
        return k == 0 ? self : (self << k) | (self >> (32 - k))
    }
}

/// The second operand of a data-processing instruction.
public enum Arm32Operand: Hashable, Sendable {
    case immediate(Arm32Immediate)
    /// Rm, shifted by a constant (0–31; `lsr`/`asr` by 32 are not emitted).
    case register(Arm32Register, Arm32Shift = .lsl, UInt32 = 0)
    /// Rm shifted by the bottom byte of Rs.
    case shiftedBy(Arm32Register, Arm32Shift, Arm32Register)

    var bits: UInt32 {
        switch self {
        case .immediate(let imm): 1 << 25 | imm.field
        case .register(let m, let type, let amount): (amount & 31) << 7 | type.rawValue << 5 | m.number
        case .shiftedBy(let m, let type, let s): s.number << 8 | type.rawValue << 5 | 1 << 4 | m.number
        }
    }

    /// As written in assembly.
    public var text: String {
        switch self {
        case .immediate(let imm): "#\(imm.value)"
        case .register(let m, let type, let amount): amount == 0 && type == .lsl ? "\(m)" : "\(m), \(type.name) #\(amount)"
        case .shiftedBy(let m, let type, let s): "\(m), \(type.name) \(s)"
        }
    }
}

/// Emits A32 instructions, one method per form, named like the mnemonic.
/// Every instruction is one little-endian word; the condition defaults to
/// "always". Operands that cannot be encoded poison the pass (never a
/// truncated field). Every form is checked against LLVM's assembler by
/// `Arm32GoldenEncodingTests`.
public struct Arm32Encoder {
    public let asm: JITEmitter<Arm32Branch>

    public init(_ assembler: JITAssembler<Arm32Branch>) { asm = assembler.emitter }
    public init(_ emitter: JITEmitter<Arm32Branch>) { asm = emitter }

    @inline(__always) func emit(_ word: UInt32) { asm.code.uint32(word) }
    @inline(__always) func emit(_ cond: Arm32Condition, _ word: UInt32) { asm.code.uint32(cond.rawValue << 28 | word) }

    // MARK: Data processing

    /// `op{s}{cond} rd, rn, operand` (compares: `op rn, operand`; moves: `op rd, operand`).
    public func dp(_ op: Arm32DataOp, _ rd: Arm32Register, _ rn: Arm32Register, _ operand: Arm32Operand,
                   s: Bool = false, cond: Arm32Condition = .al) {
        let setFlags: UInt32 = (s || op.isCompare) ? 1 : 0
        let n = op.isMove ? 0 : rn.number
        let d = op.isCompare ? 0 : rd.number
        emit(cond, op.rawValue << 21 | setFlags << 20 | n << 16 | d << 12 | operand.bits)
    }

    public func mov(_ rd: Arm32Register, _ operand: Arm32Operand, s: Bool = false, cond: Arm32Condition = .al) {
        dp(.mov, rd, .r0, operand, s: s, cond: cond)
    }
    public func mov(_ rd: Arm32Register, _ rm: Arm32Register, cond: Arm32Condition = .al) { mov(rd, .register(rm), cond: cond) }
    public func cmp(_ rn: Arm32Register, _ operand: Arm32Operand, cond: Arm32Condition = .al) { dp(.cmp, .r0, rn, operand, cond: cond) }
    public func tst(_ rn: Arm32Register, _ operand: Arm32Operand, cond: Arm32Condition = .al) { dp(.tst, .r0, rn, operand, cond: cond) }

    /// `movw rd, #imm16`: rd = imm16.
    public func movw(_ rd: Arm32Register, _ imm: UInt16, cond: Arm32Condition = .al) {
        let v = UInt32(imm)
        emit(cond, 0x0300_0000 | (v >> 12) << 16 | rd.number << 12 | v & 0xfff)
    }
    /// `movt rd, #imm16`: rd[31:16] = imm16.
    public func movt(_ rd: Arm32Register, _ imm: UInt16, cond: Arm32Condition = .al) {
        let v = UInt32(imm)
        emit(cond, 0x0340_0000 | (v >> 12) << 16 | rd.number << 12 | v & 0xfff)
    }

    /// `mul rd, rn, rm`: rd = rn × rm (low 32 bits).
    public func mul(_ rd: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register) {
        emit(.al, 0x0000_0090 | rd.number << 16 | rm.number << 8 | rn.number)
    }
    /// `mla rd, rn, rm, ra`: rd = ra + rn × rm.
    public func mla(_ rd: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register, _ ra: Arm32Register) {
        emit(.al, 0x0020_0090 | rd.number << 16 | ra.number << 12 | rm.number << 8 | rn.number)
    }
    /// `mls rd, rn, rm, ra`: rd = ra − rn × rm.
    public func mls(_ rd: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register, _ ra: Arm32Register) {
        emit(.al, 0x0060_0090 | rd.number << 16 | ra.number << 12 | rm.number << 8 | rn.number)
    }
    /// `umull lo, hi, rn, rm`: hi:lo = rn × rm (unsigned, 64 bits).
    public func umull(_ lo: Arm32Register, _ hi: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register) {
        emit(.al, 0x0080_0090 | hi.number << 16 | lo.number << 12 | rm.number << 8 | rn.number)
    }
    /// `udiv rd, rn, rm`: rd = rn ÷ rm (unsigned; 0 when rm is 0).
    public func udiv(_ rd: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register) {
        emit(.al, 0x0730_f010 | rd.number << 16 | rm.number << 8 | rn.number)
    }
    /// `sdiv rd, rn, rm`: rd = rn ÷ rm (signed; 0 when rm is 0, INT_MIN for INT_MIN ÷ −1).
    public func sdiv(_ rd: Arm32Register, _ rn: Arm32Register, _ rm: Arm32Register) {
        emit(.al, 0x0710_f010 | rd.number << 16 | rm.number << 8 | rn.number)
    }

    // MARK: Extension and byte reversal

    /// `rev rd, rm`: bytes of rm reversed.
    public func rev(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06bf_0f30 | rd.number << 12 | rm.number) }
    /// `rev16 rd, rm`: bytes of each halfword of rm swapped.
    public func rev16(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06bf_0fb0 | rd.number << 12 | rm.number) }
    /// `sxtb rd, rm`: rd = rm[7:0] sign-extended.
    public func sxtb(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06af_0070 | rd.number << 12 | rm.number) }
    /// `sxth rd, rm`: rd = rm[15:0] sign-extended.
    public func sxth(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06bf_0070 | rd.number << 12 | rm.number) }
    /// `uxtb rd, rm`: rd = rm[7:0].
    public func uxtb(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06ef_0070 | rd.number << 12 | rm.number) }
    /// `uxth rd, rm`: rd = rm[15:0].
    public func uxth(_ rd: Arm32Register, _ rm: Arm32Register) { emit(.al, 0x06ff_0070 | rd.number << 12 | rm.number) }

    // MARK: Memory

    /// Sizes of single loads and stores.
    public enum Access: Sendable, CaseIterable {
        case ldr, str, ldrb, strb, ldrh, strh, ldrsb, ldrsh, ldrd, strd

        public var name: String {
            switch self {
            case .ldr: "ldr"
            case .str: "str"
            case .ldrb: "ldrb"
            case .strb: "strb"
            case .ldrh: "ldrh"
            case .strh: "strh"
            case .ldrsb: "ldrsb"
            case .ldrsh: "ldrsh"
            case .ldrd: "ldrd"
            case .strd: "strd"
            }
        }

        /// Largest |offset| of the immediate form: 4095 for word and byte, 255 for the rest.
        public var offsetLimit: Int {
            switch self {
            case .ldr, .str, .ldrb, .strb: 4095
            default: 255
            }
        }
    }

    /// `op rt, [rn, #offset]` (ldrd/strd: rt, rt+1; rt even and not lr).
    public func access(_ op: Access, _ rt: Arm32Register, _ rn: Arm32Register, offset: Int = 0) {
        guard abs(offset) <= op.offsetLimit else {
            asm.code.poison("offset \(offset) does not fit \(op.name)")
            return
        }
        if op == .ldrd || op == .strd, rt.number & 1 != 0 || rt.number >= 14 {
            asm.code.poison("\(op.name) needs an even register below lr, not \(rt)")
            return
        }
        let up: UInt32 = offset >= 0 ? 1 : 0
        let magnitude = UInt32(abs(offset))
        switch op {
        case .ldr, .str, .ldrb, .strb:
            let load: UInt32 = (op == .ldr || op == .ldrb) ? 1 : 0
            let byte: UInt32 = (op == .ldrb || op == .strb) ? 1 : 0
            emit(.al, 0x0500_0000 | up << 23 | byte << 22 | load << 20 | rn.number << 16 | rt.number << 12 | magnitude)
        default:
            let (load, sh): (UInt32, UInt32) = switch op {
            case .ldrh: (1, 0b01)
            case .strh: (0, 0b01)
            case .ldrsb: (1, 0b10)
            case .ldrsh: (1, 0b11)
            case .ldrd: (0, 0b10)
            default: (0, 0b11)   // strd
            }
            emit(.al, 0x0140_0090 | up << 23 | load << 20 | rn.number << 16 | rt.number << 12
                 | (magnitude >> 4) << 8 | sh << 5 | magnitude & 0xf)
        }
    }

    /// `push {registers}` (stmdb sp!).
    public func push(_ registers: [Arm32Register]) { emit(.al, 0x092d_0000 | Self.list(registers)) }
    /// `pop {registers}` (ldmia sp!).
    public func pop(_ registers: [Arm32Register]) { emit(.al, 0x08bd_0000 | Self.list(registers)) }

    static func list(_ registers: [Arm32Register]) -> UInt32 { registers.reduce(0) { $0 | 1 << $1.number } }

    /// `ldrex rt, [rn]`.
    public func ldrex(_ rt: Arm32Register, _ rn: Arm32Register) { emit(.al, 0x0190_0f9f | rn.number << 16 | rt.number << 12) }
    /// `strex rd, rt, [rn]`: rd = 0 when the store happened.
    public func strex(_ rd: Arm32Register, _ rt: Arm32Register, _ rn: Arm32Register) {
        emit(.al, 0x0180_0f90 | rn.number << 16 | rd.number << 12 | rt.number)
    }
    /// `ldrexd rt, rt+1, [rn]` (rt even).
    public func ldrexd(_ rt: Arm32Register, _ rn: Arm32Register) { emit(.al, 0x01b0_0f9f | rn.number << 16 | rt.number << 12) }
    /// `strexd rd, rt, rt+1, [rn]` (rt even).
    public func strexd(_ rd: Arm32Register, _ rt: Arm32Register, _ rn: Arm32Register) {
        emit(.al, 0x01a0_0f90 | rn.number << 16 | rd.number << 12 | rt.number)
    }
    /// `dmb ish`.
    public func dmbISH() { emit(0xf57f_f05b) }

    // MARK: Control

    /// `b<cond> label`.
    public func b(_ label: Label, cond: Arm32Condition = .al) {
        let at = asm.code.count
        emit(cond, 0x0a00_0000)
        asm.addFixup(label, kind: .imm24, field: at, anchor: at + 8)
    }
    /// `bl label`.
    public func bl(_ label: Label) {
        let at = asm.code.count
        emit(.al, 0x0b00_0000)
        asm.addFixup(label, kind: .imm24, field: at, anchor: at + 8)
    }
    /// `bl target`, an absolute address, from an image at a known address.
    /// The caller checked `Self.reaches(from:to:)`.
    public func bl(absolute target: UInt64, from address: UInt64) {
        let displacement = Int64(bitPattern: target &- (address + 8))
        emit(.al, 0x0b00_0000 | UInt32(truncatingIfNeeded: displacement >> 2) & 0x00ff_ffff)
    }
    /// Whether a `bl` at `address` reaches `target` (±32 MiB).
    public static func reaches(from address: UInt64, to target: UInt64) -> Bool {
        let displacement = Int64(bitPattern: target &- (address + 8))
        return displacement & 3 == 0 && displacement >= -(1 << 25) && displacement < (1 << 25)
    }
    /// `blx rm`.
    public func blx(_ rm: Arm32Register) { emit(.al, 0x012f_ff30 | rm.number) }
    /// `bx rm`.
    public func bx(_ rm: Arm32Register) { emit(.al, 0x012f_ff10 | rm.number) }
    /// `nop` (the ARMv6K hint).
    public func nop() { emit(0xe320_f000) }
    /// `udf #imm16`: the permanently undefined instruction, the image's trap.
    public func udf(_ imm: UInt16 = 0) {
        let v = UInt32(imm)
        emit(0xe7f0_00f0 | (v >> 4) << 8 | v & 0xf)
    }

    // MARK: Constants

    /// rd = value, in one instruction when an immediate (or its inverse)
    /// encodes it, else `movw` (and `movt` when the top half is not 0).
    public func load(_ rd: Arm32Register, _ value: UInt32) {
        if let imm = Arm32Immediate(value) {
            mov(rd, .immediate(imm))
        } else if let imm = Arm32Immediate(~value) {
            dp(.mvn, rd, .r0, .immediate(imm))
        } else {
            movw(rd, UInt16(truncatingIfNeeded: value))
            if value >> 16 != 0 { movt(rd, UInt16(truncatingIfNeeded: value >> 16)) }
        }
    }

    /// rd = value in exactly two instructions (`movw`, `movt`): for
    /// sequences whose length must not depend on the value.
    public func loadFixed(_ rd: Arm32Register, _ value: UInt32) {
        movw(rd, UInt16(truncatingIfNeeded: value))
        movt(rd, UInt16(truncatingIfNeeded: value >> 16))
    }

    /// rd = rn + value (value may be negative), through `scratch` when no
    /// immediate encodes it.
    public func addConstant(_ rd: Arm32Register, _ rn: Arm32Register, _ value: Int32, scratch: Arm32Register) {
        if value == 0 {
            if rd != rn { mov(rd, rn) }
        } else if let imm = Arm32Immediate(UInt32(bitPattern: value)) {
            dp(.add, rd, rn, .immediate(imm))
        } else if value < 0, value != Int32.min, let imm = Arm32Immediate(UInt32(-value)) {
            dp(.sub, rd, rn, .immediate(imm))
        } else {
            load(scratch, UInt32(bitPattern: value))
            dp(.add, rd, rn, .register(scratch))
        }
    }
}
