/// The eight classic arithmetic operations sharing one encoding pattern
/// (Intel SDM vol. 2A, "ADD", "OR", "AND", "SUB", "XOR", "CMP"; opcode map
/// table A-2): `op r/m, r` is `digit << 3 | 1`, `op r, r/m` is `digit << 3 | 3`,
/// `op eax, imm32` is `digit << 3 | 5`, and `0x81 /digit` / `0x83 /digit` take
/// immediates.
public enum ArithmeticKind: UInt8, Sendable, CaseIterable {
    case add = 0, or = 1, and = 4, sub = 5, xor = 6, cmp = 7

    public var mnemonic: String {
        switch self {
        case .add: "add"
        case .or: "or"
        case .and: "and"
        case .sub: "sub"
        case .xor: "xor"
        case .cmp: "cmp"
        }
    }
}

/// Shift and rotate group 2 (`0xC1 /digit ib`, `0xD1 /digit`, `0xD3 /digit`),
/// Intel SDM vol. 2B, "SAL/SAR/SHL/SHR" and "RCL/RCR/ROL/ROR".
public enum ShiftKind: UInt8, Sendable, CaseIterable {
    case rol = 0, ror = 1, shl = 4, shr = 5, sar = 7

    public var mnemonic: String {
        switch self {
        case .rol: "rol"
        case .ror: "ror"
        case .shl: "shl"
        case .shr: "shr"
        case .sar: "sar"
        }
    }
}

extension X86Encoder {
    // MARK: Arithmetic (SDM vol. 2A, ADD/SUB/AND/OR/XOR/CMP; 3.1.1.3 "Instruction Column")

    /// `op dst, src` — dst = dst op src (cmp: flags only).
    @inline(__always)
    public func arith(_ kind: ArithmeticKind, _ size: OperandSize, _ dst: GPR, _ src: GPR) {
        rr(size, UInt16(kind.rawValue << 3 | 1), reg: src, rm: dst)
    }

    /// `op dst, imm` — imm8 when it fits, the short accumulator form for rax, imm32 otherwise.
    @inline(__always)
    public func arith(_ kind: ArithmeticKind, _ size: OperandSize, _ dst: GPR, imm: Int32) {
        if Self.isInt8(Int64(imm)) {
            r(size, 0x83, digit: kind.rawValue, rm: dst, imm8: UInt8(truncatingIfNeeded: imm))
        } else if dst == .rax {
            prefixes(size, reg: 0, rm: 0)
            code.byte(kind.rawValue << 3 | 5)
            immediate(imm, bytes: 4)
        } else {
            r(size, 0x81, digit: kind.rawValue, rm: dst)
            immediate(imm, bytes: 4)
        }
    }

    /// `op dst, [m]` — dst = dst op memory.
    @inline(__always)
    public func arith(_ kind: ArithmeticKind, _ size: OperandSize, _ dst: GPR, _ source: Memory) {
        rm(size, UInt16(kind.rawValue << 3 | 3), reg: dst, source)
    }

    /// `op [m], imm` — memory = memory op imm (cmp: flags only).
    @inline(__always)
    public func arith(_ kind: ArithmeticKind, _ size: OperandSize, _ target: Memory, imm: Int32) {
        if Self.isInt8(Int64(imm)) {
            m(size, 0x83, digit: kind.rawValue, target)
            immediate(imm, bytes: 1)
        } else {
            m(size, 0x81, digit: kind.rawValue, target)
            immediate(imm, bytes: 4)
        }
    }

    // MARK: Moves (SDM vol. 2A, "MOV"; vol. 2B "MOVZX", "MOVSX/MOVSXD")

    /// `mov dst, src` — 32-bit form zero-extends into the upper half.
    @inline(__always)
    public func mov(_ size: OperandSize, _ dst: GPR, _ src: GPR) {
        rr(size, 0x89, reg: src, rm: dst)
    }

    /// `mov dst32, imm32` — dst = zero-extended imm (B8+r id).
    @inline(__always)
    public func mov32(_ dst: GPR, imm: UInt32) {
        prefixes(.dword, reg: 0, rm: dst.number)
        code.byte(0xb8 | dst.low)
        code.uint32(imm)
    }

    /// `mov dst64, simm32` — dst = sign-extended imm (REX.W C7 /0 id).
    @inline(__always)
    public func mov64(_ dst: GPR, simm: Int32) {
        r(.qword, 0xc7, digit: 0, rm: dst)
        immediate(simm, bytes: 4)
    }

    /// `movabs dst, imm64` — REX.W B8+r io.
    @inline(__always)
    public func movabs(_ dst: GPR, imm: UInt64) {
        prefixes(.qword, reg: 0, rm: dst.number)
        code.byte(0xb8 | dst.low)
        code.uint64(imm)
    }

    /// Prefix and REX for a move from a byte register, which needs REX for spl–dil.
    @inline(__always)
    private func extendPrefixes(_ size: OperandSize, dst: GPR, src: GPR, byteSource: Bool) {
        let rex: UInt8 = (size == .qword ? 0x08 : 0) | dst.high << 2 | src.high
        if rex != 0 || (byteSource && src.number >= 4 && src.number < 8) { code.byte(0x40 | rex) }
    }

    /// `movzx dst32, src8/src16` — zero-extends the low byte or word (0F B6 / 0F B7).
    @inline(__always)
    public func movzx(_ dst: GPR, _ src: GPR, from: OperandSize) {
        extendPrefixes(.dword, dst: dst, src: src, byteSource: from == .byte)
        code.bytes(0x0f, from == .byte ? 0xb6 : 0xb7)
        modrmDirect(reg: dst.number, rm: src.number)
    }

    /// `movsx dst, src8/src16` (0F BE / 0F BF) or `movsxd dst64, src32` (REX.W 63).
    @inline(__always)
    public func movsx(_ size: OperandSize, _ dst: GPR, _ src: GPR, from: OperandSize) {
        extendPrefixes(size, dst: dst, src: src, byteSource: from == .byte)
        switch from {
        case .byte: code.bytes(0x0f, 0xbe)
        case .word: code.bytes(0x0f, 0xbf)
        default: code.byte(0x63)
        }
        modrmDirect(reg: dst.number, rm: src.number)
    }

    /// `cmovcc dst, src` — dst = src if the condition holds (0F 40+cc /r).
    /// Flags are read, not written. The 32-bit form writes dst (zero-extended)
    /// whether or not the condition holds (SDM vol. 2A "CMOVcc").
    @inline(__always)
    public func cmov(_ condition: Condition, _ size: OperandSize, _ dst: GPR, _ src: GPR) {
        rr(size, 0x0f40 | UInt16(condition.rawValue), reg: dst, rm: src)
    }

    /// `lea dst, [base + index * scale + disp]` (8D /r with a SIB byte; SDM
    /// vol. 2A, 2.1.5, table 2-3): dst = base + index·scale + disp, flags
    /// untouched. The 32-bit form keeps the low half and zero-extends. rsp
    /// cannot be an index; rbp and r13 as base need a displacement byte.
    @inline(__always)
    public func lea(_ size: OperandSize, _ dst: GPR, base: GPR, index: GPR, scale: UInt8, disp: Int32) {
        precondition(index != .rsp, "lea: rsp cannot be an index")
        let ss: UInt8 = switch scale {
        case 1: 0
        case 2: 1
        case 4: 2
        default: 3
        }
        let rex: UInt8 = (size == .qword ? 0x08 : 0) | dst.high << 2 | index.high << 1 | base.high
        if rex != 0 { code.byte(0x40 | rex) }
        code.byte(0x8d)
        let mod: UInt8 = disp == 0 && base.low != 5 ? 0 : Self.isInt8(Int64(disp)) ? 1 : 2
        code.bytes(mod << 6 | dst.low << 3 | 4, ss << 6 | index.low << 3 | base.low)
        if mod == 1 { code.byte(UInt8(bitPattern: Int8(disp))) } else if mod == 2 { code.uint32(UInt32(bitPattern: disp)) }
    }

    /// `lea dst32/dst64, [base + disp]` (8D /r): dst = base + disp, flags untouched.
    @inline(__always)
    public func lea(_ size: OperandSize, _ dst: GPR, _ source: Memory) {
        rm(size, 0x8d, reg: dst, source)
    }

    // MARK: Tests, multiplication, division (SDM vol. 2B "TEST", vol. 2A "IMUL", "DIV", "IDIV", "NEG")

    /// `test a, b` — flags of a & b.
    @inline(__always)
    public func test(_ size: OperandSize, _ a: GPR, _ b: GPR) {
        rr(size, 0x85, reg: b, rm: a)
    }

    /// `test dst, imm32` — flags of dst & imm (A9 id for rax, F7 /0 id).
    @inline(__always)
    public func test(_ size: OperandSize, _ dst: GPR, imm: Int32) {
        if dst == .rax {
            prefixes(size, reg: 0, rm: 0)
            code.byte(0xa9)
        } else {
            r(size, 0xf7, digit: 0, rm: dst)
        }
        immediate(imm, bytes: 4)
    }

    /// `imul dst, src` — dst = dst * src, low half (0F AF /r).
    @inline(__always)
    public func imul(_ size: OperandSize, _ dst: GPR, _ src: GPR) {
        rr(size, 0x0faf, reg: dst, rm: src)
    }

    /// `imul dst, [m]` — dst = dst * memory (0F AF /r).
    @inline(__always)
    public func imul(_ size: OperandSize, _ dst: GPR, _ source: Memory) {
        rm(size, 0x0faf, reg: dst, source)
    }

    /// `imul dst, src, imm` — dst = src * imm (6B /r ib, 69 /r id).
    @inline(__always)
    public func imul(_ size: OperandSize, _ dst: GPR, _ src: GPR, imm: Int32) {
        let short = Self.isInt8(Int64(imm))
        rr(size, short ? 0x6b : 0x69, reg: dst, rm: src)
        immediate(imm, bytes: short ? 1 : 4)
    }

    /// `neg dst` — dst = -dst (F7 /3).
    @inline(__always)
    public func neg(_ size: OperandSize, _ dst: GPR) { r(size, 0xf7, digit: 3, rm: dst) }

    /// `div src` — rdx:rax / src, unsigned: quotient rax, remainder rdx (F7 /6).
    @inline(__always)
    public func div(_ size: OperandSize, _ src: GPR) { r(size, 0xf7, digit: 6, rm: src) }

    /// `idiv src` — signed division of rdx:rax (F7 /7).
    @inline(__always)
    public func idiv(_ size: OperandSize, _ src: GPR) { r(size, 0xf7, digit: 7, rm: src) }

    /// `cdq` / `cqo` — sign-extends eax/rax into edx/rdx (99).
    @inline(__always)
    public func signExtendAccumulator(_ size: OperandSize) {
        if size == .qword { code.bytes(0x48, 0x99) } else { code.byte(0x99) }
    }

    // MARK: Shifts and byte swaps (SDM vol. 2B "SAL/SAR/SHL/SHR", vol. 2A "BSWAP")

    /// `shl/shr/sar/ror dst, imm8` (D1 /digit for a count of 1, C1 /digit ib otherwise).
    @inline(__always)
    public func shift(_ kind: ShiftKind, _ size: OperandSize, _ dst: GPR, count: UInt8) {
        if count == 1 {
            r(size, 0xd1, digit: kind.rawValue, rm: dst)
        } else {
            r(size, 0xc1, digit: kind.rawValue, rm: dst, imm8: count)
        }
    }

    /// `shl/shr/sar dst, cl` (D3 /digit).
    @inline(__always)
    public func shiftByCL(_ kind: ShiftKind, _ size: OperandSize, _ dst: GPR) {
        r(size, 0xd3, digit: kind.rawValue, rm: dst)
    }

    /// BMI2 `shlx/shrx/sarx dst, src, count` (VEX.LZ.{66,F2,F3}.0F38.W{0,1}
    /// F7 /r; three-byte VEX, Intel SDM vol. 2A, 2.3.5): dst = src shifted by
    /// count masked to 31 or 63, as the legacy forms mask `cl`; the 32-bit
    /// form zero-extends. Flags are not touched.
    @inline(__always)
    public func shiftx(_ kind: ShiftKind, _ size: OperandSize, dst: GPR, src: GPR, count: GPR) {
        precondition(kind == .shl || kind == .shr || kind == .sar, "shiftx: \(kind) has no BMI2 form")
        let pp: UInt8 = switch kind {
        case .shl: 0b01          // 66
        case .sar: 0b10          // F3
        default: 0b11            // F2: shr
        }
        let r: UInt8 = dst.number >= 8 ? 0 : 0x80
        let b: UInt8 = src.number >= 8 ? 0 : 0x20
        let w: UInt8 = size == .qword ? 0x80 : 0
        let vvvv: UInt8 = (~count.number & 0x0f) << 3
        let first: UInt8 = r | 0x40 | b | 0x02
        let second: UInt8 = w | vvvv | pp
        let modrm: UInt8 = 0xc0 | (dst.low << 3) | src.low
        code.bytes(0xc4, first, second)
        code.bytes(0xf7, modrm)
    }

    /// `bswap dst32/dst64` (0F C8+r).
    @inline(__always)
    public func bswap(_ size: OperandSize, _ dst: GPR) {
        prefixes(size, reg: 0, rm: dst.number)
        code.bytes(0x0f, 0xc8 | dst.low)
    }
}
