import BPFJIT

/// The two displacement encodings of the MIPS32 backend.
///
/// ```
///   BEQ/BNE/BAL   | op |  rs |  rt |         offset (words)          |
///                  31 26 25 21 20 16 15                              0
/// ```
///
/// `offset16`: the conditional branches and `bal`, a signed 16-bit count of
/// words measured from the delay slot (the branch's address plus 4), so
/// ±128 KiB. `long32`: the long form every branch site falls back to when
/// its target is out of that range: `lui at, hi; ori at, at, lo` hold the
/// 32-bit displacement from the instruction after a `bal` (whose return
/// address the sequence adds it to), so any target in the image reaches.
/// The field is the `lui`; the `ori` follows it. Words are written in the
/// target's byte order.
public enum MIPS32Branch: BranchKind {
    case offset16(bigEndian: Bool)
    case long32(bigEndian: Bool)

    @inline(__always)
    public func canEncode(_ displacement: Int) -> Bool {
        switch self {
        case .offset16:
            // A margin of two words: the driver estimates from the end of the
            // branch and its delay slot, the field counts from the slot.
            return displacement & 3 == 0 && displacement >= -(1 << 17) + 8 && displacement < (1 << 17) - 8
        case .long32:
            return displacement >= Int(Int32.min) && displacement <= Int(Int32.max)
        }
    }

    @inline(__always)
    public func patch(_ code: CodeBuffer, field: Int, displacement: Int) {
        switch self {
        case .offset16(let bigEndian):
            let word = MIPS32Encoder.read(code, at: field, bigEndian: bigEndian)
            let value = word & 0xffff_0000 | UInt32(truncatingIfNeeded: displacement >> 2) & 0xffff
            MIPS32Encoder.write(code, at: field, value, bigEndian: bigEndian)
        case .long32(let bigEndian):
            let d = UInt32(truncatingIfNeeded: displacement)
            let lui = MIPS32Encoder.read(code, at: field, bigEndian: bigEndian)
            let ori = MIPS32Encoder.read(code, at: field + 4, bigEndian: bigEndian)
            MIPS32Encoder.write(code, at: field, lui & 0xffff_0000 | d >> 16, bigEndian: bigEndian)
            MIPS32Encoder.write(code, at: field + 4, ori & 0xffff_0000 | d & 0xffff, bigEndian: bigEndian)
        }
    }
}

/// A MIPS general-purpose register, $0–$31, named as the O32 ABI names them.
public struct MIPS32Register: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt32
    public init(_ number: UInt32) {
        precondition(number < 32)
        self.number = number
    }

    public static let zero = Self(0), at = Self(1), v0 = Self(2), v1 = Self(3)
    public static let a0 = Self(4), a1 = Self(5), a2 = Self(6), a3 = Self(7)
    public static let t0 = Self(8), t1 = Self(9), t2 = Self(10), t3 = Self(11)
    public static let t4 = Self(12), t5 = Self(13), t6 = Self(14), t7 = Self(15)
    public static let s0 = Self(16), s1 = Self(17), s2 = Self(18), s3 = Self(19)
    public static let s4 = Self(20), s5 = Self(21), s6 = Self(22), s7 = Self(23)
    public static let t8 = Self(24), t9 = Self(25), k0 = Self(26), k1 = Self(27)
    public static let gp = Self(28), sp = Self(29), fp = Self(30), ra = Self(31)

    static let names = [
        "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
        "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra",
    ]

    public var description: String { "$" + Self.names[Int(number)] }
}

/// Emits MIPS32 Release 2 instructions (MIPS32 Architecture for
/// Programmers, Volume II, rev. 6.x; "R2" encodings) in the target's byte
/// order. Every branch and jump is emitted with an explicit `nop` in its
/// delay slot: no instruction is ever moved into a slot, so no emitted
/// sequence depends on which instruction executes there.
///
/// With `release6`, the forms Release 6 re-encoded take their R6 encodings
/// (`mul`, `jr` as `jalr $zero`, `ll`/`sc` in SPECIAL3), and its new
/// three-operand multiply/divide and select instructions are available;
/// the Release 2 only forms (`multu`, `div`, `mfhi`, `movn`, `lwl`…) must
/// not be emitted then (the backend does not).
public struct MIPS32Encoder {
    public let asm: JITAssembler<MIPS32Branch>
    public let bigEndian: Bool
    public let release6: Bool

    public init(_ asm: JITAssembler<MIPS32Branch>, bigEndian: Bool, release6: Bool = false) {
        self.asm = asm
        self.bigEndian = bigEndian
        self.release6 = release6
    }

    static func read(_ code: CodeBuffer, at offset: Int, bigEndian: Bool) -> UInt32 {
        let raw = UInt32(truncatingIfNeeded: code.read(at: offset, size: 4))
        return bigEndian ? raw.byteSwapped : raw
    }

    static func write(_ code: CodeBuffer, at offset: Int, _ word: UInt32, bigEndian: Bool) {
        code.patch(at: offset, value: UInt64(bigEndian ? word.byteSwapped : word), size: 4)
    }

    @inline(__always)
    public func emit(_ word: UInt32) { asm.code.uint32(bigEndian ? word.byteSwapped : word) }

    var short: MIPS32Branch { .offset16(bigEndian: bigEndian) }
    var long: MIPS32Branch { .long32(bigEndian: bigEndian) }

    // MARK: Formats

    func r(_ rs: MIPS32Register, _ rt: MIPS32Register, _ rd: MIPS32Register, sa: UInt32 = 0, _ funct: UInt32) {
        emit(rs.number << 21 | rt.number << 16 | rd.number << 11 | (sa & 31) << 6 | funct)
    }

    func i(_ op: UInt32, _ rs: MIPS32Register, _ rt: MIPS32Register, _ imm: UInt16) {
        emit(op << 26 | rs.number << 21 | rt.number << 16 | UInt32(imm))
    }

    // MARK: Arithmetic and logic

    public func addu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x21) }
    public func subu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x23) }
    public func and(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x24) }
    public func or(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x25) }
    public func xor(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x26) }
    public func nor(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x27) }
    public func slt(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x2a) }
    public func sltu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x2b) }
    public func movz(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x0a) }
    public func movn(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x0b) }
    /// `sllv rd, rt, rs` (amount in rs, bits 0–4).
    public func sllv(_ rd: MIPS32Register, _ rt: MIPS32Register, _ rs: MIPS32Register) { r(rs, rt, rd, 0x04) }
    public func srlv(_ rd: MIPS32Register, _ rt: MIPS32Register, _ rs: MIPS32Register) { r(rs, rt, rd, 0x06) }
    public func srav(_ rd: MIPS32Register, _ rt: MIPS32Register, _ rs: MIPS32Register) { r(rs, rt, rd, 0x07) }
    public func sll(_ rd: MIPS32Register, _ rt: MIPS32Register, _ sa: UInt32) { r(.zero, rt, rd, sa: sa, 0x00) }
    public func srl(_ rd: MIPS32Register, _ rt: MIPS32Register, _ sa: UInt32) { r(.zero, rt, rd, sa: sa, 0x02) }
    public func sra(_ rd: MIPS32Register, _ rt: MIPS32Register, _ sa: UInt32) { r(.zero, rt, rd, sa: sa, 0x03) }
    /// `rotr rd, rt, sa` (R2: SRL with bit 21 set).
    public func rotr(_ rd: MIPS32Register, _ rt: MIPS32Register, _ sa: UInt32) { r(.at, rt, rd, sa: sa, 0x02) }
    /// `mul rd, rs, rt` (SPECIAL2): the low 32 bits of the product; HI/LO unpredictable after it.
    public func mul(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) {
        if release6 { r(rs, rt, rd, sa: 2, 0x18); return }
        emit(0x1c << 26 | rs.number << 21 | rt.number << 16 | rd.number << 11 | 0x02)
    }
    // Release 6: products and quotients straight into a GPR.
    public func mulu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 2, 0x19) }
    public func muhu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 3, 0x19) }
    public func div(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 2, 0x1a) }
    public func mod(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 3, 0x1a) }
    public func divu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 2, 0x1b) }
    public func modu(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, sa: 3, 0x1b) }
    /// Release 6 `seleqz rd, rs, rt`: rd = rt == 0 ? rs : 0.
    public func seleqz(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x35) }
    /// Release 6 `selnez rd, rs, rt`: rd = rt != 0 ? rs : 0.
    public func selnez(_ rd: MIPS32Register, _ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, rd, 0x37) }
    public func multu(_ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, .zero, 0x19) }
    public func div(_ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, .zero, 0x1a) }
    public func divu(_ rs: MIPS32Register, _ rt: MIPS32Register) { r(rs, rt, .zero, 0x1b) }
    public func mfhi(_ rd: MIPS32Register) { r(.zero, .zero, rd, 0x10) }
    public func mflo(_ rd: MIPS32Register) { r(.zero, .zero, rd, 0x12) }
    /// `move rd, rs`, as `or rd, rs, $zero`.
    public func move(_ rd: MIPS32Register, _ rs: MIPS32Register) { or(rd, rs, .zero) }

    public func addiu(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: Int16) { i(0x09, rs, rt, UInt16(bitPattern: imm)) }
    public func slti(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: Int16) { i(0x0a, rs, rt, UInt16(bitPattern: imm)) }
    public func sltiu(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: Int16) { i(0x0b, rs, rt, UInt16(bitPattern: imm)) }
    public func andi(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: UInt16) { i(0x0c, rs, rt, imm) }
    public func ori(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: UInt16) { i(0x0d, rs, rt, imm) }
    public func xori(_ rt: MIPS32Register, _ rs: MIPS32Register, _ imm: UInt16) { i(0x0e, rs, rt, imm) }
    public func lui(_ rt: MIPS32Register, _ imm: UInt16) { i(0x0f, .zero, rt, imm) }

    // SPECIAL3 (R2): byte swaps within halfwords, sign extension, bit fields.
    public func wsbh(_ rd: MIPS32Register, _ rt: MIPS32Register) { emit(0x1f << 26 | rt.number << 16 | rd.number << 11 | 0x02 << 6 | 0x20) }
    public func seb(_ rd: MIPS32Register, _ rt: MIPS32Register) { emit(0x1f << 26 | rt.number << 16 | rd.number << 11 | 0x10 << 6 | 0x20) }
    public func seh(_ rd: MIPS32Register, _ rt: MIPS32Register) { emit(0x1f << 26 | rt.number << 16 | rd.number << 11 | 0x18 << 6 | 0x20) }
    /// `ext rt, rs, pos, size`: bits pos..pos+size-1 of rs, zero-extended.
    public func ext(_ rt: MIPS32Register, _ rs: MIPS32Register, pos: UInt32, size: UInt32) {
        emit(0x1f << 26 | rs.number << 21 | rt.number << 16 | (size - 1) << 11 | pos << 6 | 0x00)
    }

    /// `rd = value`, in one or two instructions.
    public func load(_ rd: MIPS32Register, _ value: UInt32) {
        if value <= 0xffff {
            ori(rd, .zero, UInt16(value))
        } else if Int32(bitPattern: value) >= -0x8000 && Int32(bitPattern: value) < 0 {
            addiu(rd, .zero, Int16(truncatingIfNeeded: Int32(bitPattern: value)))
        } else {
            lui(rd, UInt16(value >> 16))
            if value & 0xffff != 0 { ori(rd, rd, UInt16(value & 0xffff)) }
        }
    }

    /// `lui rd, hi; ori rd, rd, lo`: always two instructions (addresses whose value changes between passes).
    public func loadFixed(_ rd: MIPS32Register, _ value: UInt32) {
        lui(rd, UInt16(value >> 16))
        ori(rd, rd, UInt16(value & 0xffff))
    }

    /// `rd = rs + value` (rd may equal rs; `scratch` must differ from rs when the value needs it).
    public func addConstant(_ rd: MIPS32Register, _ rs: MIPS32Register, _ value: Int32, scratch: MIPS32Register) {
        if value == 0 {
            if rd != rs { move(rd, rs) }
        } else if let imm = Int16(exactly: value) {
            addiu(rd, rs, imm)
        } else {
            load(scratch, UInt32(bitPattern: value))
            addu(rd, rs, scratch)
        }
    }

    // MARK: Memory

    public func lb(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x20, base, rt, UInt16(bitPattern: offset)) }
    public func lh(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x21, base, rt, UInt16(bitPattern: offset)) }
    public func lw(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x23, base, rt, UInt16(bitPattern: offset)) }
    public func lbu(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x24, base, rt, UInt16(bitPattern: offset)) }
    public func lhu(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x25, base, rt, UInt16(bitPattern: offset)) }
    public func sb(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x28, base, rt, UInt16(bitPattern: offset)) }
    public func sh(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x29, base, rt, UInt16(bitPattern: offset)) }
    public func sw(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x2b, base, rt, UInt16(bitPattern: offset)) }
    public func lwl(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x22, base, rt, UInt16(bitPattern: offset)) }
    public func lwr(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x26, base, rt, UInt16(bitPattern: offset)) }
    public func swl(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x2a, base, rt, UInt16(bitPattern: offset)) }
    public func swr(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) { i(0x2e, base, rt, UInt16(bitPattern: offset)) }

    /// An unaligned word load: `lwr`/`lwl` (little endian) or `lwl`/`lwr`
    /// (big endian) of the word's two ends. rt must differ from base.
    public func loadWordUnaligned(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) {
        if bigEndian { lwl(rt, offset, base); lwr(rt, offset + 3, base) } else { lwr(rt, offset, base); lwl(rt, offset + 3, base) }
    }

    /// An unaligned word store: `swr`/`swl` or `swl`/`swr`.
    public func storeWordUnaligned(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) {
        if bigEndian { swl(rt, offset, base); swr(rt, offset + 3, base) } else { swr(rt, offset, base); swl(rt, offset + 3, base) }
    }

    public func ll(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) {
        if release6 { special3Exclusive(rt, offset, base, 0x36); return }
        i(0x30, base, rt, UInt16(bitPattern: offset))
    }
    public func sc(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register) {
        if release6 { special3Exclusive(rt, offset, base, 0x26); return }
        i(0x38, base, rt, UInt16(bitPattern: offset))
    }
    /// Release 6 LL/SC: SPECIAL3 with a 9-bit offset.
    func special3Exclusive(_ rt: MIPS32Register, _ offset: Int16, _ base: MIPS32Register, _ funct: UInt32) {
        guard (-256...255).contains(offset) else {
            asm.code.poison("ll/sc offset \(offset) does not fit Release 6's 9 bits")
            return
        }
        emit(0x1f << 26 | base.number << 21 | rt.number << 16 | (UInt32(bitPattern: Int32(offset)) & 0x1ff) << 7 | funct)
    }
    public func sync() { emit(0x0000_000f) }

    // MARK: Control

    public func nop() { emit(0) }
    /// `break`: the image's trap.
    public func brk() { emit(0x0000_000d) }
    /// `jr rs` (Release 6: `jalr $zero, rs`), then the delay slot's nop.
    public func jr(_ rs: MIPS32Register) { r(rs, .zero, .zero, release6 ? 0x09 : 0x08); nop() }
    /// `jalr rs` (return address in ra), then the delay slot's nop.
    public func jalr(_ rs: MIPS32Register) { r(rs, .zero, .ra, 0x09); nop() }

    /// `beq`/`bne rs, rt, label` and its nop, or, when the label is out of
    /// reach, the inverse branch over a long jump. `eq: true` with rs = rt =
    /// $zero is the unconditional `b`.
    public func branch(_ label: Label, eq: Bool, _ rs: MIPS32Register, _ rt: MIPS32Register) {
        let always = eq && rs == .zero && rt == .zero
        let (useShort, site) = asm.chooseShort(to: label, shortLength: 8, short: short)
        if useShort {
            let at = asm.code.count
            i(eq ? 0x04 : 0x05, rs, rt, 0)
            asm.addFixup(label, kind: short, field: at, anchor: at + 4, site: site)
            nop()
            return
        }
        if !always {
            i(eq ? 0x05 : 0x04, rs, rt, 8)                // skip the nop and the 7-word long jump
            nop()
        }
        longSequence(label, link: false, site: site)
    }

    /// `b label`.
    public func b(_ label: Label) { branch(label, eq: true, .zero, .zero) }

    /// `bal label` (a local call), or the long form with `jalr`.
    public func bal(_ label: Label) {
        let (useShort, site) = asm.chooseShort(to: label, shortLength: 8, short: short)
        if useShort {
            let at = asm.code.count
            i(0x01, .zero, MIPS32Register(0x11), 0)
            asm.addFixup(label, kind: short, field: at, anchor: at + 4, site: site)
            nop()
        } else {
            longSequence(label, link: true, site: site)
        }
    }

    /// `lui at, d.hi; ori at, at, d.lo; bal 1f; nop; 1: addu at, ra, at; jr/jalr at; nop`.
    /// Clobbers at and ra (the function frame saves ra).
    func longSequence(_ label: Label, link: Bool, site: Int32) {
        let field = asm.code.count
        lui(.at, 0)
        ori(.at, .at, 0)
        i(0x01, .zero, MIPS32Register(0x11), 1)           // bal .+8 (over its delay slot)
        nop()
        let anchor = asm.code.count
        addu(.at, .ra, .at)
        if link { jalr(.at) } else { jr(.at) }
        asm.addFixup(label, kind: long, field: field, anchor: anchor, site: site)
    }

    /// A call to an absolute address (O32: the callee's address in t9).
    public func callAbsolute(_ target: UInt32) {
        loadFixed(.t9, target)
        jalr(.t9)
    }
}
