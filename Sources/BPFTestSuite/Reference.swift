import BPFISA

/// The expected results, computed straight from the text of RFC 9669 with
/// Swift integer arithmetic.
///
/// This is deliberately a second, independent formulation: it never calls
/// an engine, and where the interpreter masks or special-cases, this code
/// spells the rule out differently (a remainder instead of a mask, the
/// overflow-reporting division instead of a `-1` test, byte loops instead
/// of `byteSwapped`), so that one mistake cannot hide in both.
public enum Reference {
    /// Result of `dst = dst op src` in the given width. For 32-bit operations
    /// only the low halves of the operands matter and the result is
    /// zero-extended; the caller passes 64-bit register contents.
    public static func alu(_ op: ALUOperation, _ width: Width, _ dst: UInt64, _ src: UInt64) -> UInt64 {
        width == .w64 ? alu64(op, dst, src) : UInt64(alu32(op, UInt32(truncatingIfNeeded: dst), UInt32(truncatingIfNeeded: src)))
    }

    static func alu64(_ op: ALUOperation, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let sa = Int64(bitPattern: a), sb = Int64(bitPattern: b)
        switch op {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return a &* b
        // "If execution would result in division by zero, the destination register is instead set to zero."
        case .div: return b == 0 ? 0 : a / b
        // "If execution would result in modulo by zero, ... the destination register is unchanged."
        case .mod: return b == 0 ? a : a % b
        // Signed division: LLONG_MIN / -1 wraps to LLONG_MIN; modulo takes the sign of the dividend.
        case .sdiv: return b == 0 ? 0 : UInt64(bitPattern: sa.dividedReportingOverflow(by: sb).partialValue)
        case .smod: return b == 0 ? a : UInt64(bitPattern: sa.remainderReportingOverflow(dividingBy: sb).partialValue)
        case .or: return a | b
        case .and: return a & b
        case .xor: return a ^ b
        // "Shift operations use a mask of 0x3F (63) for 64-bit operations."
        case .lsh: return a << (b % 64)
        case .rsh: return a >> (b % 64)
        case .arsh: return UInt64(bitPattern: sa >> Int64(b % 64))
        case .mov: return b
        }
    }

    static func alu32(_ op: ALUOperation, _ a: UInt32, _ b: UInt32) -> UInt32 {
        let sa = Int32(bitPattern: a), sb = Int32(bitPattern: b)
        switch op {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return UInt32(truncatingIfNeeded: UInt64(a) * UInt64(b))
        case .div: return b == 0 ? 0 : a / b
        case .mod: return b == 0 ? a : a % b
        case .sdiv: return b == 0 ? 0 : UInt32(bitPattern: sa.dividedReportingOverflow(by: sb).partialValue)
        case .smod: return b == 0 ? a : UInt32(bitPattern: sa.remainderReportingOverflow(dividingBy: sb).partialValue)
        case .or: return a | b
        case .and: return a & b
        case .xor: return a ^ b
        // "... and 0x1F (31) for 32-bit operations."
        case .lsh: return a << (b % 32)
        case .rsh: return a >> (b % 32)
        case .arsh: return UInt32(bitPattern: sa >> Int32(b % 32))
        case .mov: return b
        }
    }

    /// The register value an immediate stands for: sign-extended to 64 bits
    /// for ALU64 and JMP, used as 32 bits for ALU and JMP32.
    public static func immediate(_ imm: Int32, _ width: Width) -> UInt64 {
        width == .w64 ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))
    }

    /// `dst = -dst`, as two's complement.
    public static func neg(_ width: Width, _ a: UInt64) -> UInt64 {
        let negated = ~a &+ 1
        return width == .w64 ? negated : negated & 0xffff_ffff
    }

    /// MOVSX: the low `bits` of `src`, sign-extended to the operation width.
    public static func movsx(_ width: Width, bits: Int, _ src: UInt64) -> UInt64 {
        signExtend(src, fromBits: bits) & (width == .w64 ? UInt64.max : 0xffff_ffff)
    }

    /// Replicates bit `bits - 1` of `value` into every higher bit.
    public static func signExtend(_ value: UInt64, fromBits bits: Int) -> UInt64 {
        guard bits < 64 else { return value }
        let low = value & ((1 << UInt64(bits)) - 1)
        let negative = (value >> UInt64(bits - 1)) & 1 == 1
        return negative ? low | ~((1 << UInt64(bits)) - 1) : low
    }

    /// END / BSWAP: the low `bits`, converted. Conversion to the host's own
    /// order keeps the bytes; conversion to the other order, and BSWAP,
    /// reverses them. Either way the result is zero-extended.
    public static func byteSwap(_ kind: ByteSwapKind, bits: Int, _ value: UInt64, hostIsLittleEndian: Bool = Reference.hostIsLittleEndian) -> UInt64 {
        let bytes = (0..<bits / 8).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
        let reverse = switch kind {
        case .swap: true
        case .toLittleEndian: !hostIsLittleEndian
        case .toBigEndian: hostIsLittleEndian
        }
        let ordered = reverse ? Array(bytes.reversed()) : bytes
        return ordered.enumerated().reduce(0) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) }
    }

    /// The byte order programs see memory in, which is the host's.
    public static let hostIsLittleEndian: Bool = {
        var one: UInt16 = 1
        return withUnsafeBytes(of: &one) { $0[0] == 1 }
    }()

    /// Whether a conditional jump is taken (RFC 9669, section 4.3); JMP32
    /// compares the low 32 bits only.
    public static func taken(_ condition: JumpCondition, _ width: Width, _ dst: UInt64, _ src: UInt64) -> Bool {
        let bits = width == .w64 ? 64 : 32
        let a = width == .w64 ? dst : dst & 0xffff_ffff
        let b = width == .w64 ? src : src & 0xffff_ffff
        // Signed order: flip the sign bit, then compare unsigned.
        let signBit: UInt64 = 1 << UInt64(bits - 1)
        let sa = a ^ signBit, sb = b ^ signBit
        switch condition {
        case .eq: return a == b
        case .ne: return a != b
        case .gt: return a > b
        case .ge: return a >= b
        case .lt: return a < b
        case .le: return a <= b
        case .set: return a & b != 0
        case .sgt: return sa > sb
        case .sge: return sa >= sb
        case .slt: return sa < sb
        case .sle: return sa <= sb
        }
    }

    /// An atomic read-modify-write: the new memory value and the old one.
    /// `comparand` is r0 for CMPXCHG. 32-bit values occupy the low halves.
    public static func atomic(_ op: AtomicOperation, _ width: Width, memory: UInt64, src: UInt64,
                              comparand: UInt64) -> (memory: UInt64, old: UInt64) {
        let mask: UInt64 = width == .w64 ? .max : 0xffff_ffff
        let old = memory & mask, value = src & mask
        let new: UInt64 = switch op {
        case .add: (old &+ value) & mask
        case .or: old | value
        case .and: old & value
        case .xor: old ^ value
        case .xchg: value
        case .cmpxchg: old == comparand & mask ? value : old
        }
        return (new, old)
    }

    /// The little- or big-endian integer of `bytes` as the host would load it.
    public static func load(_ bytes: ArraySlice<UInt8>, hostIsLittleEndian: Bool = Reference.hostIsLittleEndian) -> UInt64 {
        let ordered = hostIsLittleEndian ? Array(bytes) : Array(bytes.reversed())
        return ordered.enumerated().reduce(0) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) }
    }

    /// The bytes a store of the low `size` bytes of `value` writes.
    public static func storeBytes(_ value: UInt64, size: Int, hostIsLittleEndian: Bool = Reference.hostIsLittleEndian) -> [UInt8] {
        let little = (0..<size).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
        return hostIsLittleEndian ? little : little.reversed()
    }
}
