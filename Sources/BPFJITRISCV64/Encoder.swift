import BPFJIT

/// The displacement encodings of the RISC-V 64 backend (The RISC-V
/// Instruction Set Manual, Volume I, "Base Instruction Formats"), all
/// measured from the instruction that holds them:
///
/// ```
///   B-type  |12|10:5| rs2 | rs1 |f3|4:1|11| 1100011 |   beq … bgeu: ±4 KiB
///   J-type  |20|  10:1  |11| 19:12 | rd  | 1101111 |   jal:        ±1 MiB
///   auipc rd, hi20 ; jalr/addi rd, lo12(rd)          pcrel32:    ±2 GiB
/// ```
///
/// `pcrel32` is the pair `auipc` + an I-type instruction; the field is the
/// `auipc`, and `hi20 = (d + 0x800) >> 12`, `lo12 = d - (hi20 << 12)` so
/// that the sign-extended low part adds back exactly.
public enum RV64Branch: BranchKind {
    case b12, j20, pcrel32

    @inline(__always)
    public func canEncode(_ displacement: Int) -> Bool {
        guard displacement & 1 == 0 else { return false }
        switch self {
        case .b12: return displacement >= -(1 << 12) && displacement < (1 << 12)
        case .j20: return displacement >= -(1 << 20) && displacement < (1 << 20)
        case .pcrel32: return displacement >= -(1 << 31) + 0x800 && displacement < (1 << 31) - 0x800
        }
    }

    @inline(__always)
    public func patch(_ code: CodeBuffer, field: Int, displacement: Int) {
        let word = UInt32(truncatingIfNeeded: code.read(at: field, size: 4))
        switch self {
        case .b12:
            code.patch(at: field, value: UInt64(word & 0x01ff_f07f | RV64Encoder.bImmediate(displacement)), size: 4)
        case .j20:
            code.patch(at: field, value: UInt64(word & 0x0000_0fff | RV64Encoder.jImmediate(displacement)), size: 4)
        case .pcrel32:
            let (hi, lo) = RV64Encoder.split(Int64(displacement))
            let second = UInt32(truncatingIfNeeded: code.read(at: field + 4, size: 4))
            code.patch(at: field, value: UInt64(word & 0xfff | UInt32(truncatingIfNeeded: hi) << 12), size: 4)
            code.patch(at: field + 4, value: UInt64(second & 0x000f_ffff | UInt32(truncatingIfNeeded: lo) << 20), size: 4)
        }
    }
}

/// A RISC-V integer register, x0–x31, named as the LP64 ABI names them.
public struct RV64Register: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt32
    public init(_ number: UInt32) {
        precondition(number < 32)
        self.number = number
    }

    public static let zero = Self(0), ra = Self(1), sp = Self(2), gp = Self(3), tp = Self(4)
    public static let t0 = Self(5), t1 = Self(6), t2 = Self(7), s0 = Self(8), s1 = Self(9)
    public static let a0 = Self(10), a1 = Self(11), a2 = Self(12), a3 = Self(13), a4 = Self(14)
    public static let a5 = Self(15), a6 = Self(16), a7 = Self(17)
    public static let s2 = Self(18), s3 = Self(19), s4 = Self(20), s5 = Self(21), s6 = Self(22), s7 = Self(23)
    public static let s8 = Self(24), s9 = Self(25), s10 = Self(26), s11 = Self(27)
    public static let t3 = Self(28), t4 = Self(29), t5 = Self(30), t6 = Self(31)

    static let names = [
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
    ]

    public var description: String { Self.names[Int(number)] }
    /// Whether the compressed formats' 3-bit fields can name it (x8–x15).
    var isCompressible: Bool { number >= 8 && number <= 15 }
}

/// Conditions of the B-type branches (funct3).
public enum RV64Condition: UInt32, Sendable, CaseIterable {
    case eq = 0, ne = 1, lt = 4, ge = 5, ltu = 6, geu = 7

    /// The opposite condition (each pair differs in funct3's low bit).
    public var inverted: RV64Condition { RV64Condition(rawValue: rawValue ^ 1)! }
    public var mnemonic: String { "b" + ["eq", "ne", "", "", "lt", "ge", "ltu", "geu"][Int(rawValue)] }
}

/// Emits RV64IMA instructions (and, with `compressed`, the C extension's
/// 16-bit forms of some of them; with `bitManipulation`, Zba/Zbb forms)
/// little-endian, as the unprivileged ISA manual encodes them. Every form
/// is checked against `llvm-mc -triple=riscv64 -mattr=+m,+a,+c`.
public struct RV64Encoder {
    public let asm: JITAssembler<RV64Branch>
    /// Use 16-bit encodings where one exists for the operands (the C extension).
    public let compressed: Bool
    /// Zero-extend 32-bit values with Zba's `zext.w` (one instruction).
    public let zba: Bool

    public init(_ asm: JITAssembler<RV64Branch>, compressed: Bool = false, zba: Bool = false) {
        self.asm = asm
        self.compressed = compressed
        self.zba = zba
    }

    var code: CodeBuffer { asm.code }

    @inline(__always) public func emit(_ word: UInt32) { asm.code.uint32(word) }
    @inline(__always) func emit16(_ half: UInt16) { asm.code.bytes(UInt8(truncatingIfNeeded: half), UInt8(half >> 8)) }
    public func poison(_ reason: @autoclosure () -> String) { asm.code.poison(reason()) }

    // MARK: Immediates

    static func bImmediate(_ d: Int) -> UInt32 {
        let v = UInt32(truncatingIfNeeded: d)
        return (v >> 12 & 1) << 31 | (v >> 5 & 0x3f) << 25 | (v >> 1 & 0xf) << 8 | (v >> 11 & 1) << 7
    }

    static func jImmediate(_ d: Int) -> UInt32 {
        let v = UInt32(truncatingIfNeeded: d)
        return (v >> 20 & 1) << 31 | (v >> 1 & 0x3ff) << 21 | (v >> 11 & 1) << 20 | (v >> 12 & 0xff) << 12
    }

    /// `value = hi << 12 + lo` with `lo` a signed 12-bit number (hi20 for `lui`/`auipc`).
    static func split(_ value: Int64) -> (hi: Int64, lo: Int64) {
        let lo = (value << 52) >> 52
        return ((value &- lo) >> 12, lo)
    }

    static func fits12(_ value: Int64) -> Bool { value >= -2048 && value <= 2047 }

    // MARK: Formats

    func r(_ funct7: UInt32, _ rs2: RV64Register, _ rs1: RV64Register, _ funct3: UInt32, _ rd: RV64Register, _ opcode: UInt32) {
        emit(funct7 << 25 | rs2.number << 20 | rs1.number << 15 | funct3 << 12 | rd.number << 7 | opcode)
    }

    func i(_ imm: Int64, _ rs1: RV64Register, _ funct3: UInt32, _ rd: RV64Register, _ opcode: UInt32) {
        guard Self.fits12(imm) else { return poison("immediate \(imm) does not fit 12 bits") }
        emit(UInt32(truncatingIfNeeded: imm) << 20 | rs1.number << 15 | funct3 << 12 | rd.number << 7 | opcode)
    }

    func s(_ imm: Int64, _ rs2: RV64Register, _ rs1: RV64Register, _ funct3: UInt32) {
        guard Self.fits12(imm) else { return poison("store offset \(imm) does not fit 12 bits") }
        let v = UInt32(truncatingIfNeeded: imm)
        emit((v >> 5 & 0x7f) << 25 | rs2.number << 20 | rs1.number << 15 | funct3 << 12 | (v & 0x1f) << 7 | 0x23)
    }

    // MARK: Register-register (OP, OP-32; M)

    public func add(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d != .zero, b != .zero { return emit16(0x9002 | UInt16(d.number << 7 | b.number << 2)) } /* c.add */
        if compressed, d == b, d != .zero, a != .zero { return emit16(0x9002 | UInt16(d.number << 7 | a.number << 2)) } /* c.add */
        if compressed, d != .zero, a == .zero, b != .zero { return emit16(0x8002 | UInt16(d.number << 7 | b.number << 2)) } /* c.mv */
        if compressed, d != .zero, b == .zero, a != .zero { return emit16(0x8002 | UInt16(d.number << 7 | a.number << 2)) } /* c.mv */
        r(0, b, a, 0, d, 0x33)
    }
    public func sub(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x8c01, d, b, 0) }  /* c.sub */
        r(0x20, b, a, 0, d, 0x33)
    }
    public func sll(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 1, d, 0x33) }
    public func slt(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 2, d, 0x33) }
    public func sltu(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 3, d, 0x33) }
    public func xor(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x8c01, d, b, 1) }  /* c.xor */
        r(0, b, a, 4, d, 0x33)
    }
    public func srl(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 5, d, 0x33) }
    public func sra(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0x20, b, a, 5, d, 0x33) }
    public func or(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x8c01, d, b, 2) }  /* c.or */
        r(0, b, a, 6, d, 0x33)
    }
    public func and(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x8c01, d, b, 3) }  /* c.and */
        r(0, b, a, 7, d, 0x33)
    }
    public func mul(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 0, d, 0x33) }
    public func div(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 4, d, 0x33) }
    public func divu(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 5, d, 0x33) }
    public func rem(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 6, d, 0x33) }
    public func remu(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 7, d, 0x33) }

    public func addw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x9c01, d, b, 1) }  /* c.addw */
        r(0, b, a, 0, d, 0x3b)
    }
    public func subw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        if compressed, d == a, d.isCompressible, b.isCompressible { return ca(0x9c01, d, b, 0) }  /* c.subw */
        r(0x20, b, a, 0, d, 0x3b)
    }
    public func sllw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 1, d, 0x3b) }
    public func srlw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0, b, a, 5, d, 0x3b) }
    public func sraw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(0x20, b, a, 5, d, 0x3b) }
    public func mulw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 0, d, 0x3b) }
    public func divw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 4, d, 0x3b) }
    public func divuw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 5, d, 0x3b) }
    public func remw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 6, d, 0x3b) }
    public func remuw(_ d: RV64Register, _ a: RV64Register, _ b: RV64Register) { r(1, b, a, 7, d, 0x3b) }

    /// CA format: `100 f6' rd'/rs1' f2 rs2' 01` (c.sub/xor/or/and, c.subw/addw).
    func ca(_ base: UInt16, _ d: RV64Register, _ b: RV64Register, _ funct2: UInt16) {
        emit16(base | UInt16(d.number - 8) << 7 | funct2 << 5 | UInt16(b.number - 8) << 2)
    }

    // MARK: Immediate (OP-IMM, OP-IMM-32, LUI, AUIPC)

    public func addi(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) {
        if compressed, Self.fits6(imm) {
            if d == a, d != .zero, imm != 0 { return ci(0x0001, d, imm) }                        /* c.addi */
            if a == .zero, d != .zero { return ci(0x4001, d, imm) }                               /* c.li */
        }
        if compressed, imm == 0, d != .zero, a != .zero { return emit16(0x8002 | UInt16(d.number << 7 | a.number << 2)) } /* c.mv */
        if compressed, d == .sp, a == .sp, imm != 0, imm % 16 == 0, imm >= -512, imm < 512 {    /* c.addi16sp */
            let v = UInt16(truncatingIfNeeded: imm)
            return emit16(0x6101 | (v >> 9 & 1) << 12 | (v >> 4 & 1) << 6 | (v >> 6 & 1) << 5 | (v >> 7 & 3) << 3 | (v >> 5 & 1) << 2)
        }
        if compressed, a == .sp, d.isCompressible, imm > 0, imm < 1024, imm % 4 == 0 {             /* c.addi4spn */
            let v = UInt16(imm)
            return emit16((v >> 4 & 3) << 11 | (v >> 6 & 0xf) << 7 | (v >> 2 & 1) << 6 | (v >> 3 & 1) << 5 | UInt16(d.number - 8) << 2)
        }
        i(imm, a, 0, d, 0x13)
    }
    public func slti(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) { i(imm, a, 2, d, 0x13) }
    public func sltiu(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) { i(imm, a, 3, d, 0x13) }
    public func xori(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) { i(imm, a, 4, d, 0x13) }
    public func ori(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) { i(imm, a, 6, d, 0x13) }
    public func andi(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) {
        if compressed, d == a, d.isCompressible, Self.fits6(imm) {                                /* c.andi */
            let v = UInt16(truncatingIfNeeded: imm)
            return emit16(0x8801 | (v >> 5 & 1) << 12 | UInt16(d.number - 8) << 7 | (v & 0x1f) << 2)
        }
        i(imm, a, 7, d, 0x13)
    }
    public func slli(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) {
        if compressed, d == a, d != .zero, shamt != 0 {                                           /* c.slli */
            return emit16(0x0002 | UInt16(shamt >> 5 & 1) << 12 | UInt16(d.number) << 7 | UInt16(shamt & 0x1f) << 2)
        }
        shift(shamt, 63, a, 1, d, 0x13, 0)
    }
    public func srli(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) {
        if compressed, d == a, d.isCompressible, shamt != 0 { return cb(0x8001, d, shamt) }      /* c.srli */
        shift(shamt, 63, a, 5, d, 0x13, 0)
    }
    public func srai(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) {
        if compressed, d == a, d.isCompressible, shamt != 0 { return cb(0x8401, d, shamt) }      /* c.srai */
        shift(shamt, 63, a, 5, d, 0x13, 0x400)
    }
    public func addiw(_ d: RV64Register, _ a: RV64Register, _ imm: Int64) {
        if compressed, d == a, d != .zero, Self.fits6(imm) { return ci(0x2001, d, imm) }          /* c.addiw */
        if compressed, a == .zero, d != .zero, Self.fits6(imm) { return ci(0x4001, d, imm) }       /* c.li */
        i(imm, a, 0, d, 0x1b)
    }
    public func slliw(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) { shift(shamt, 31, a, 1, d, 0x1b, 0) }
    public func srliw(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) { shift(shamt, 31, a, 5, d, 0x1b, 0) }
    public func sraiw(_ d: RV64Register, _ a: RV64Register, _ shamt: UInt32) { shift(shamt, 31, a, 5, d, 0x1b, 0x400) }

    func shift(_ shamt: UInt32, _ limit: UInt32, _ a: RV64Register, _ funct3: UInt32, _ d: RV64Register, _ opcode: UInt32, _ high: UInt32) {
        guard shamt <= limit else { return poison("shift amount \(shamt)") }
        emit((high | shamt) << 20 | a.number << 15 | funct3 << 12 | d.number << 7 | opcode)
    }

    public func lui(_ d: RV64Register, _ imm20: Int64) {
        guard imm20 >= -(1 << 19), imm20 < 1 << 19 else { return poison("lui immediate \(imm20)") }
        if compressed, d != .zero, d != .sp, imm20 != 0, Self.fits6(imm20) {                       /* c.lui */
            let v = UInt16(truncatingIfNeeded: imm20)
            return emit16(0x6001 | (v >> 5 & 1) << 12 | UInt16(d.number) << 7 | (v & 0x1f) << 2)
        }
        emit(UInt32(truncatingIfNeeded: imm20) << 12 | d.number << 7 | 0x37)
    }
    public func auipc(_ d: RV64Register, _ imm20: Int64) {
        guard imm20 >= -(1 << 19), imm20 < 1 << 19 else { return poison("auipc immediate \(imm20)") }
        emit(UInt32(truncatingIfNeeded: imm20) << 12 | d.number << 7 | 0x17)
    }

    static func fits6(_ v: Int64) -> Bool { v >= -32 && v <= 31 }

    /// CI format: `f3 imm[5] rd imm[4:0] op` (c.addi, c.li, c.addiw).
    func ci(_ base: UInt16, _ d: RV64Register, _ imm: Int64) {
        let v = UInt16(truncatingIfNeeded: imm)
        emit16(base | (v >> 5 & 1) << 12 | UInt16(d.number) << 7 | (v & 0x1f) << 2)
    }

    /// CB shift format: `100 shamt[5] f2 rd' shamt[4:0] 01`.
    func cb(_ base: UInt16, _ d: RV64Register, _ shamt: UInt32) {
        emit16(base | UInt16(shamt >> 5 & 1) << 12 | UInt16(d.number - 8) << 7 | UInt16(shamt & 0x1f) << 2)
    }

    // MARK: Pseudo-instructions

    public func mv(_ d: RV64Register, _ a: RV64Register) { addi(d, a, 0) }
    public func nop() { if compressed { emit16(0x0001) } else { emit(0x0000_0013) } }          /* (c.)nop */
    /// `zext.w d, a`: Zba's `add.uw d, a, zero`, or without Zba
    /// `slli d, a, 32; srli d, d, 32` (the kernel's `emit_zextw`).
    public func zeroExtend32(_ d: RV64Register, _ a: RV64Register) {
        if zba { return zextw(d, a) }
        slli(d, a, 32)
        srli(d, d, 32)
    }
    /// `sext.w d, a` = `addiw d, a, 0`.
    public func signExtend32(_ d: RV64Register, _ a: RV64Register) { addiw(d, a, 0) }

    /// d = a 64-bit constant, the kernel's `emit_imm`: `lui` + `addiw` for
    /// 32-bit values, else the upper part recursively, shifted, plus the low 12 bits.
    public func loadImmediate(_ d: RV64Register, _ value: Int64) {
        if value >= Int64(Int32.min) && value <= Int64(Int32.max) {
            let (hi, lo) = Self.split(value)
            // hi may be 0x80000 for values just below 2^31: lui sign-extends and addiw wraps back.
            let hi20 = (hi << 44) >> 44
            if hi20 != 0 {
                lui(d, hi20)
                if lo != 0 { addiw(d, d, lo) }
            } else {
                addi(d, .zero, lo)
            }
            return
        }
        let lo = (value << 52) >> 52
        let upper = (value &- lo) >> 12   // wrapping: the sequence computes modulo 2^64
        let zeros = UInt32(upper.trailingZeroBitCount)
        let shifted = upper >> Int64(zeros)
        loadImmediate(d, shifted)
        slli(d, d, 12 + zeros)
        if lo != 0 { addi(d, d, lo) }
    }

    // MARK: Loads and stores

    public enum LoadKind: UInt32, Sendable, CaseIterable {
        case lb = 0, lh = 1, lw = 2, ld = 3, lbu = 4, lhu = 5, lwu = 6
        var mnemonic: String { ["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"][Int(rawValue)] }
    }

    public func load(_ kind: LoadKind, _ d: RV64Register, _ offset: Int64, _ base: RV64Register) {
        if compressed, d.isCompressible, base.isCompressible, offset >= 0 {
            if kind == .lw, offset < 128, offset % 4 == 0 {                                           /* c.lw */
                let v = UInt16(offset)
                return emit16(0x4000 | (v >> 3 & 7) << 10 | UInt16(base.number - 8) << 7 | (v >> 2 & 1) << 6 | (v >> 6 & 1) << 5 | UInt16(d.number - 8) << 2)
            }
            if kind == .ld, offset < 256, offset % 8 == 0 {                                           /* c.ld */
                let v = UInt16(offset)
                return emit16(0x6000 | (v >> 3 & 7) << 10 | UInt16(base.number - 8) << 7 | (v >> 6 & 3) << 5 | UInt16(d.number - 8) << 2)
            }
        }
        if compressed, kind == .lw, base == .sp, d != .zero, offset >= 0, offset < 256, offset % 4 == 0 { /* c.lwsp */
            let v = UInt16(offset)
            return emit16(0x4002 | (v >> 5 & 1) << 12 | UInt16(d.number) << 7 | (v >> 2 & 7) << 4 | (v >> 6 & 3) << 2)
        }
        if compressed, kind == .ld, base == .sp, d != .zero, offset >= 0, offset < 512, offset % 8 == 0 { /* c.ldsp */
            let v = UInt16(offset)
            return emit16(0x6002 | (v >> 5 & 1) << 12 | UInt16(d.number) << 7 | (v >> 3 & 3) << 5 | (v >> 6 & 7) << 2)
        }
        i(offset, base, kind.rawValue, d, 0x03)
    }

    /// Store widths (funct3 = log2 of the size).
    public func store(bytes: Int, _ value: RV64Register, _ offset: Int64, _ base: RV64Register) {
        let funct3: UInt32 = switch bytes { case 1: 0; case 2: 1; case 4: 2; default: 3 }
        if compressed, value.isCompressible, base.isCompressible, offset >= 0 {
            if bytes == 4, offset < 128, offset % 4 == 0 {                                             /* c.sw */
                let v = UInt16(offset)
                return emit16(0xc000 | (v >> 3 & 7) << 10 | UInt16(base.number - 8) << 7 | (v >> 2 & 1) << 6 | (v >> 6 & 1) << 5 | UInt16(value.number - 8) << 2)
            }
            if bytes == 8, offset < 256, offset % 8 == 0 {                                             /* c.sd */
                let v = UInt16(offset)
                return emit16(0xe000 | (v >> 3 & 7) << 10 | UInt16(base.number - 8) << 7 | (v >> 6 & 3) << 5 | UInt16(value.number - 8) << 2)
            }
        }
        if compressed, bytes == 8, base == .sp, offset >= 0, offset < 512, offset % 8 == 0 {        /* c.sdsp */
            let v = UInt16(offset)
            return emit16(0xe002 | (v >> 3 & 7) << 10 | (v >> 6 & 7) << 7 | UInt16(value.number) << 2)
        }
        s(offset, value, base, funct3)
    }

    public func ld(_ d: RV64Register, _ offset: Int64, _ base: RV64Register) { load(.ld, d, offset, base) }
    public func sd(_ value: RV64Register, _ offset: Int64, _ base: RV64Register) { store(bytes: 8, value, offset, base) }

    // MARK: Atomics (A)

    public enum AMO: UInt32, Sendable, CaseIterable {
        case add = 0x00, swap = 0x01, xor = 0x04, or = 0x08, and = 0x0c
        var mnemonic: String {
            switch self { case .add: "amoadd"; case .swap: "amoswap"; case .xor: "amoxor"; case .or: "amoor"; case .and: "amoand" }
        }
    }

    func atomic(_ funct5: UInt32, aqrl: UInt32, _ rs2: RV64Register, _ rs1: RV64Register, double: Bool, _ d: RV64Register) {
        emit(funct5 << 27 | aqrl << 25 | rs2.number << 20 | rs1.number << 15 | (double ? 3 : 2) << 12 | d.number << 7 | 0x2f)
    }

    /// `amo<op>.w|d[.aqrl] d, value, (address)`.
    public func amo(_ op: AMO, double: Bool, ordered: Bool, _ d: RV64Register, _ value: RV64Register, _ address: RV64Register) {
        atomic(op.rawValue, aqrl: ordered ? 3 : 0, value, address, double: double, d)
    }
    /// `lr.w|d.aqrl d, (address)`.
    public func lr(double: Bool, _ d: RV64Register, _ address: RV64Register) {
        atomic(0x02, aqrl: 3, .zero, address, double: double, d)
    }
    /// `sc.w|d.rl status, value, (address)`.
    public func sc(double: Bool, _ status: RV64Register, _ value: RV64Register, _ address: RV64Register) {
        atomic(0x03, aqrl: 1, value, address, double: double, status)
    }
    /// `fence rw, rw`.
    public func fence() { emit(0x0330_000f) }

    // MARK: Bit manipulation (Zba, Zbb)

    /// `zext.w d, a` (Zba `add.uw d, a, zero`).
    public func zextw(_ d: RV64Register, _ a: RV64Register) { r(0x04, .zero, a, 0, d, 0x3b) }
    /// `sext.b`, `sext.h` (Zbb).
    public func sextb(_ d: RV64Register, _ a: RV64Register) { emit(0x604 << 20 | a.number << 15 | 1 << 12 | d.number << 7 | 0x13) }
    public func sexth(_ d: RV64Register, _ a: RV64Register) { emit(0x605 << 20 | a.number << 15 | 1 << 12 | d.number << 7 | 0x13) }
    /// `zext.h d, a` (Zbb, RV64: `packw d, a, zero` encoding 0x0800403b).
    public func zexth(_ d: RV64Register, _ a: RV64Register) { emit(0x080 << 20 | a.number << 15 | 4 << 12 | d.number << 7 | 0x3b) }
    /// `rev8 d, a` (Zbb, RV64).
    public func rev8(_ d: RV64Register, _ a: RV64Register) { emit(0x6b8 << 20 | a.number << 15 | 5 << 12 | d.number << 7 | 0x13) }
    /// `sh1add`, `sh2add`, `sh3add d, a, b` (Zba): d = b + (a << n).
    public func shadd(_ n: UInt32, _ d: RV64Register, _ a: RV64Register, _ b: RV64Register) {
        guard (1...3).contains(n) else { return poison("sh\(n)add") }
        r(0x10, b, a, 2 * n, d, 0x33)
    }

    // MARK: Control transfer

    /// `b<cond> a, b, label`: short when it reaches, else the inverted
    /// branch over `jal zero, label` (±1 MiB).
    public func branch(_ condition: RV64Condition, _ a: RV64Register, _ b: RV64Register, _ label: Label) {
        let choice = asm.chooseShort(to: label, shortLength: 0, short: .b12)
        let here = code.count
        if choice.useShort {
            bType(condition, a, b, 0)
            asm.addFixup(label, kind: .b12, field: here, anchor: here, site: choice.site)
        } else {
            bType(condition.inverted, a, b, 8)                  /* b!cond a, b, .+8 */
            let jump = code.count
            emit(0x0000_006f)                                   /* jal zero, label */
            asm.addFixup(label, kind: .j20, field: jump, anchor: jump, site: choice.site)
        }
    }

    /// A branch over the next `offset` bytes of a sequence (no label).
    public func branch(_ condition: RV64Condition, _ a: RV64Register, _ b: RV64Register, skip offset: Int) {
        bType(condition, a, b, offset)
    }

    func bType(_ condition: RV64Condition, _ a: RV64Register, _ b: RV64Register, _ d: Int) {
        guard RV64Branch.b12.canEncode(d) else { return poison("branch displacement \(d)") }
        emit(Self.bImmediate(d) | b.number << 20 | a.number << 15 | condition.rawValue << 12 | 0x63)
    }

    /// `jal rd, label` (±1 MiB).
    public func jal(_ d: RV64Register, _ label: Label) {
        let here = code.count
        emit(d.number << 7 | 0x6f)
        asm.addFixup(label, kind: .j20, field: here, anchor: here)
    }

    /// `j label`.
    public func j(_ label: Label) { jal(.zero, label) }

    /// `jal rd, .+offset`.
    public func jal(_ d: RV64Register, displacement: Int) {
        guard RV64Branch.j20.canEncode(displacement) else { return poison("jal displacement \(displacement)") }
        emit(Self.jImmediate(displacement) | d.number << 7 | 0x6f)
    }

    /// `jalr rd, offset(rs)`.
    public func jalr(_ d: RV64Register, _ offset: Int64, _ rs: RV64Register) {
        if compressed, offset == 0, rs != .zero {
            if d == .zero { return emit16(0x8002 | UInt16(rs.number) << 7) }                  /* c.jr */
            if d == .ra { return emit16(0x9002 | UInt16(rs.number) << 7) }                    /* c.jalr */
        }
        i(offset, rs, 0, d, 0x67)
    }

    /// `ret`.
    public func ret() { jalr(.zero, 0, .ra) }

    /// `auipc d, %pcrel_hi(label); addi d, d, %pcrel_lo(label)`: a label's address.
    public func loadAddress(_ d: RV64Register, _ label: Label) {
        let here = code.count
        emit(d.number << 7 | 0x17)                              /* auipc d, 0 */
        emit(d.number << 15 | d.number << 7 | 0x13)             /* addi d, d, 0 */
        asm.addFixup(label, kind: .pcrel32, field: here, anchor: here)
    }

    /// `ebreak` (`c.ebreak` when compressing).
    public func ebreak() { if compressed { emit16(0x9002) } else { emit(0x0010_0073) } }
}
