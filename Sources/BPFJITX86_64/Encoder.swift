import BPFJIT

/// A memory operand `[base + disp]` (Intel SDM vol. 2A, 2.1.5, tables 2-2 and 2-3).
public struct Memory: Hashable, Sendable {
    public var base: GPR
    public var disp: Int32
    public init(_ base: GPR, _ disp: Int32 = 0) {
        self.base = base
        self.disp = disp
    }

    /// Intel syntax, for tests and listings.
    public func text(_ size: OperandSize?) -> String {
        let prefix = size.map { $0.pointer + " " } ?? ""
        if disp == 0 { return "\(prefix)[\(base)]" }
        return disp < 0 ? "\(prefix)[\(base) - \(-Int64(disp))]" : "\(prefix)[\(base) + \(disp)]"
    }
}

/// The two x86-64 branch displacement fields: rel8 and rel32, both measured
/// from the end of the instruction (Intel SDM vol. 2A, "Jcc", "JMP", "CALL").
public enum X86Branch: BranchKind {
    case rel8, rel32

    @inline(__always)
    public func canEncode(_ displacement: Int) -> Bool {
        switch self {
        case .rel8: Int(Int8.min)...Int(Int8.max) ~= displacement
        case .rel32: Int(Int32.min)...Int(Int32.max) ~= displacement
        }
    }

    @inline(__always)
    public func patch(_ code: CodeBuffer, field: Int, displacement: Int) {
        code.patch(at: field, value: UInt64(bitPattern: Int64(displacement)), size: self == .rel8 ? 1 : 4)
    }
}

/// The variable-length sites (`X86Encoder.j`, `.jmp`): `jcc` 70+cc cb or
/// 0F 80+cc cd, `jmp` EB cb or E9 cd, re-encoded where they stand when a
/// pass is replayed (`JITAssembler.replay`).
extension X86Branch: RelaxableBranchKind {
    public static var short: X86Branch { .rel8 }
    public static var shortSiteLength: Int { 2 }

    public static func site(field: Int, kind: X86Branch, byteBefore: UInt8) -> (start: Int, end: Int) {
        switch kind {
        case .rel8: (field - 1, field + 1)
        case .rel32: (byteBefore == 0xe9 ? field - 1 : field - 2, field + 4)
        }
    }

    public static func emitSite(first: UInt8, second: UInt8, short: Bool, into code: CodeView) -> (kind: X86Branch, field: Int, anchor: Int) {
        let unconditional = first == 0xeb || first == 0xe9
        let condition = (first == 0x0f ? second : first) & 0x0f
        switch (unconditional, short) {
        case (true, true):
            code.bytes(0xeb, 0)
            return (.rel8, 1, 2)
        case (true, false):
            code.byte(0xe9)
            code.uint32(0)
            return (.rel32, 1, 5)
        case (false, true):
            code.bytes(0x70 | condition, 0)
            return (.rel8, 1, 2)
        case (false, false):
            code.bytes(0x0f, 0x80 | condition)
            code.uint32(0)
            return (.rel32, 2, 6)
        }
    }
}

/// Emits x86-64 instructions, one method per instruction form, named like
/// the mnemonic. This file holds the prefix/REX/ModRM machinery; the forms
/// are in the `Encoder+…` extensions by category.
///
/// It writes through the assembler's non-owning views: encoders are made per
/// instruction while the driver keeps the assembler alive, and reference
/// counting per byte would cost more than the encoding itself.
public struct X86Encoder {
    public let asm: JITEmitter<X86Branch>
    public let code: CodeView

    @inline(__always)
    public init(_ assembler: JITAssembler<X86Branch>) {
        asm = assembler.emitter
        code = asm.code
    }

    /// Whether `value` fits a sign-extended 8-bit immediate or displacement.
    @inline(__always) static func isInt8(_ value: Int64) -> Bool { value >= -128 && value <= 127 }
    /// Whether `value` fits a sign-extended 32-bit immediate.
    @inline(__always) static func isInt32(_ value: Int64) -> Bool { value >= Int64(Int32.min) && value <= Int64(Int32.max) }

    // MARK: Prefixes (SDM vol. 2A, 2.1.1 legacy prefixes; 2.2.1 REX)

    /// Operand-size prefix and REX for an instruction whose ModRM.reg is
    /// `reg` and whose ModRM.rm (or SIB.base / opcode register) is `rm`.
    /// Byte operands in spl/bpl/sil/dil need a REX prefix even if it is empty
    /// (SDM vol. 2A, 2.2.1.2, table 2-5); `regIsByteRegister` says whether
    /// ModRM.reg names a register rather than an opcode extension.
    @inline(__always)
    func prefixes(_ size: OperandSize, reg: UInt8, rm: UInt8, regIsByteRegister: Bool = false, rmIsByteRegister: Bool = false) {
        if size == .word { code.byte(0x66) }
        let rex: UInt8 = (size == .qword ? 0x08 : 0) | (reg >> 3) << 2 | (rm >> 3)
        let force = size == .byte && ((regIsByteRegister && reg >= 4 && reg < 8) || (rmIsByteRegister && rm >= 4 && rm < 8))
        if rex != 0 || force { code.byte(0x40 | rex) }
    }

    /// One or two opcode bytes (`0x0Fxx` for the two-byte map).
    @inline(__always)
    func opcode(_ op: UInt16) {
        if op > 0xff { code.bytes(UInt8(op >> 8), UInt8(op & 0xff)) } else { code.byte(UInt8(op)) }
    }

    /// ModRM with mod = 11: register–register.
    @inline(__always)
    func modrmDirect(reg: UInt8, rm: UInt8) {
        code.byte(0xc0 | (reg & 7) << 3 | (rm & 7))
    }

    /// ModRM (+ SIB + displacement) for `[base + disp]`. rsp/r12 as base need
    /// a SIB byte (0x24); rbp/r13 with no displacement need an explicit disp8
    /// of 0 (mod = 00 with rm = 101 means RIP-relative), SDM table 2-2.
    @inline(__always)
    func modrmMemory(reg: UInt8, _ m: Memory) {
        let base = m.base.low
        let mod: UInt8
        if m.disp == 0 && base != 5 { mod = 0 } else if Self.isInt8(Int64(m.disp)) { mod = 1 } else { mod = 2 }
        code.byte(mod << 6 | (reg & 7) << 3 | base)
        if base == 4 { code.byte(0x24) }
        if mod == 1 { code.byte(UInt8(bitPattern: Int8(m.disp))) } else if mod == 2 { code.uint32(UInt32(bitPattern: m.disp)) }
    }

    /// Prefixes, opcode and a register-direct ModRM (mod = 11) packed into
    /// one word, plus `trailing` bytes (an immediate) after them: the common
    /// register forms are written with a single store.
    @inline(__always)
    func direct(_ size: OperandSize, _ op: UInt16, reg: UInt8, rm: UInt8, regIsByteRegister: Bool,
                trailing: UInt64 = 0, trailingCount: Int = 0) {
        var packed: UInt64 = 0, n = 0
        if size == .word { packed = 0x66; n = 1 }
        let rex: UInt8 = (size == .qword ? 0x08 : 0) | (reg >> 3) << 2 | (rm >> 3)
        let force = size == .byte && ((regIsByteRegister && reg >= 4 && reg < 8) || (rm >= 4 && rm < 8))
        if rex != 0 || force { packed |= UInt64(0x40 | rex) << (8 * n); n += 1 }
        if op > 0xff { packed |= UInt64(op >> 8) << (8 * n); n += 1 }
        packed |= UInt64(op & 0xff) << (8 * n); n += 1
        packed |= UInt64(0xc0 | (reg & 7) << 3 | (rm & 7)) << (8 * n); n += 1
        packed |= trailing << (8 * n)
        code.append(packed: packed, count: n + trailingCount)
    }

    /// `op rm, reg` / `op reg, rm` with both operands registers.
    @inline(__always)
    func rr(_ size: OperandSize, _ op: UInt16, reg: GPR, rm: GPR) {
        direct(size, op, reg: reg.number, rm: rm.number, regIsByteRegister: true)
    }

    /// `op rm` with an opcode extension `/digit` in ModRM.reg.
    @inline(__always)
    func r(_ size: OperandSize, _ op: UInt16, digit: UInt8, rm: GPR) {
        direct(size, op, reg: digit, rm: rm.number, regIsByteRegister: false)
    }

    /// `op rm, imm8` with an opcode extension, in one store.
    @inline(__always)
    func r(_ size: OperandSize, _ op: UInt16, digit: UInt8, rm: GPR, imm8: UInt8) {
        direct(size, op, reg: digit, rm: rm.number, regIsByteRegister: false, trailing: UInt64(imm8), trailingCount: 1)
    }

    /// `op [m], reg` / `op reg, [m]`.
    @inline(__always)
    func rm(_ size: OperandSize, _ op: UInt16, reg: GPR, _ m: Memory, lock: Bool = false) {
        if lock { code.byte(0xf0) }
        prefixes(size, reg: reg.number, rm: m.base.number, regIsByteRegister: true)
        opcode(op)
        modrmMemory(reg: reg.number, m)
    }

    /// `op [m]` with an opcode extension `/digit`.
    @inline(__always)
    func m(_ size: OperandSize, _ op: UInt16, digit: UInt8, _ m: Memory) {
        prefixes(size, reg: digit, rm: m.base.number)
        opcode(op)
        modrmMemory(reg: digit, m)
    }

    /// An immediate of `size` bytes (1, 2 or 4).
    @inline(__always)
    func immediate(_ value: Int32, bytes size: Int) {
        switch size {
        case 1: code.byte(UInt8(truncatingIfNeeded: value))
        case 2: code.uint16(UInt16(truncatingIfNeeded: value))
        default: code.uint32(UInt32(bitPattern: value))
        }
    }
}
