import BPFJIT

/// The AArch64 branch displacement fields, all in units of 4 bytes and
/// measured from the branch instruction itself (Arm ARM, C6.2 "B", "BL",
/// "B.cond", "CBZ", "TBZ"):
///
/// ```
///   B / BL        |op|0 0 1 0 1|                 imm26                      |  ±128 MiB
///   B.cond, CBZ   |0 1 0 1 0 1 0 0|            imm19            |0| cond  |  ±1 MiB
///   TBZ / TBNZ    |b5|0 1 1 0 1 1|op| b40 |        imm14        |   Rt    |  ±32 KiB
///   ADR           |0|lo|1 0 0 0 0|            immhi            |   Rd    |  ±1 MiB, in bytes
///                  31                   23       18              4       0
/// ```
///
/// ADR is not a branch, but its PC-relative field is resolved the same way
/// (the address of a table in the image).
public enum Arm64Branch: BranchKind {
    case imm26, imm19, imm14, adr

    /// Bits of the signed word displacement.
    @inlinable var width: Int {
        switch self {
        case .imm26: 26
        case .imm19: 19
        case .imm14: 14
        case .adr: 21
        }
    }

    /// Lowest bit of the field in the instruction word.
    @inlinable var shift: UInt32 {
        switch self {
        case .imm26: 0
        case .imm19, .imm14, .adr: 5
        }
    }

    @inline(__always)
    public func canEncode(_ displacement: Int) -> Bool {
        let limit = 1 << (width - 1)
        if self == .adr { return displacement >= -limit && displacement < limit }
        guard displacement & 3 == 0 else { return false }
        let words = displacement >> 2
        return words >= -limit && words < limit
    }

    /// Merges the displacement into the instruction word at `field`.
    @inline(__always)
    public func patch(_ code: CodeBuffer, field: Int, displacement: Int) {
        let word = UInt32(truncatingIfNeeded: code.read(at: field, size: 4))
        code.patch(at: field, value: UInt64(Self.merge(word, kind: self, displacement: displacement)), size: 4)
    }

    /// `word` with this kind's field set to `displacement / 4`.
    @inlinable
    static func merge(_ word: UInt32, kind: Arm64Branch, displacement: Int) -> UInt32 {
        if kind == .adr {
            let bits = UInt32(truncatingIfNeeded: displacement) & 0x1f_ffff
            return word & ~(3 << 29 | 0x7_ffff << 5) | (bits & 3) << 29 | (bits >> 2) << 5
        }
        let mask = UInt32((1 << kind.width) - 1)
        let field = UInt32(truncatingIfNeeded: displacement >> 2) & mask
        return word & ~(mask << kind.shift) | field << kind.shift
    }
}

/// Emits AArch64 instructions, one method per instruction form, named like
/// the mnemonic; each says what it computes in one line. This file holds the
/// plumbing and the immediate types; the forms are in the `Encoder+…`
/// extensions by category (arithmetic and logic, memory, control).
///
/// Every instruction is one 32-bit little-endian word. Operands that could
/// be out of range are either typed (`ArithmeticImmediate`,
/// `LogicalImmediate`, `MoveWideShift`: a value that does not fit cannot be
/// built) or checked here, poisoning the pass (`CodeBuffer.poison`), so an
/// unencodable operand is an error, never a truncated field.
///
/// It writes through the assembler's non-owning views, like the x86-64 encoder.
public struct Arm64Encoder {
    public let asm: JITEmitter<Arm64Branch>
    public let code: CodeView

    @inline(__always)
    public init(_ assembler: JITAssembler<Arm64Branch>) {
        asm = assembler.emitter
        code = asm.code
    }

    /// Appends one instruction word.
    @inline(__always)
    public func emit(_ word: UInt32) { code.word(word) }

    /// Records an operand that does not fit and emits `brk #0xbad` in its
    /// place, so the pass keeps its shape; the driver then fails the compile.
    @inline(never)
    func poison(_ reason: String) {
        code.poison(reason)
        emit(0xd420_0000 | 0xbad << 5)
    }

    /// `Rd`/`Rt` at bit 0, `Rn` at 5, `Rm`/`Rs` at 16, `Ra`/`Rt2` at 10.
    @inline(__always) static func rd(_ r: Arm64Register) -> UInt32 { r.number }
    @inline(__always) static func rn(_ r: Arm64Register) -> UInt32 { r.number << 5 }
    @inline(__always) static func rm(_ r: Arm64Register) -> UInt32 { r.number << 16 }
    @inline(__always) static func ra(_ r: Arm64Register) -> UInt32 { r.number << 10 }
    @inline(__always) static func sf(_ size: Arm64Size) -> UInt32 { size.rawValue << 31 }
}

/// The immediate of ADD/SUB (immediate): 12 bits, optionally shifted left by
/// 12 (Arm ARM, C6.2 "ADD (immediate)": `sh`, `imm12`).
public struct ArithmeticImmediate: Hashable, Sendable {
    public let imm12: UInt32
    public let shifted: Bool

    /// nil unless `value` is 0–4095 or a multiple of 4096 up to 0xfff000.
    @inlinable
    public init?(_ value: UInt64) {
        if value < 4096 {
            imm12 = UInt32(value)
            shifted = false
        } else if value & 0xfff == 0, value >> 12 < 4096 {
            imm12 = UInt32(value >> 12)
            shifted = true
        } else {
            return nil
        }
    }

    public var value: UInt64 { UInt64(imm12) << (shifted ? 12 : 0) }

    /// `sh:imm12` in place (bits 22 and 21–10).
    @inlinable var field: UInt32 { (shifted ? 1 << 22 : 0) | imm12 << 10 }
}

/// The immediate of the logical instructions: a rotated run of ones
/// replicated across the register (Arm ARM, C6.2 "AND (immediate)" and
/// J1 pseudocode `DecodeBitMasks`):
///
/// ```
///   N:imms   element   run of ones         immr
///   1 xxxxxx   64      imms + 1 ones        rotation right within the element
///   0 0xxxxx   32      (imms & 31) + 1
///   0 10xxxx   16      (imms & 15) + 1
///   0 110xxx    8
///   0 1110xx    4
///   0 11110x    2
/// ```
///
/// 0 and all ones have no encoding (the run would be empty or fill the element).
public struct LogicalImmediate: Hashable, Sendable {
    public let n: UInt32
    public let immr: UInt32
    public let imms: UInt32

    /// nil when `value` (its low 32 bits for `.w`) is no such pattern.
    public init?(_ value: UInt64, size: Arm64Size) {
        var v = value
        if size == .w {
            v &= 0xffff_ffff
            v |= v << 32
        }
        guard v != 0, v != .max else { return nil }
        // The smallest element that repeats.
        var element = 64
        while element > 2 {
            let half = element / 2
            let mask = (UInt64(1) << UInt64(half)) - 1
            guard v & mask == (v >> UInt64(half)) & mask else { break }
            element = half
        }
        let mask: UInt64 = element == 64 ? .max : (UInt64(1) << UInt64(element)) - 1
        let bits = v & mask
        let ones = bits.nonzeroBitCount
        let run: UInt64 = (UInt64(1) << UInt64(ones)) - 1
        // Find the rotation that turns the element into a run of ones from bit 0:
        // value = ROR(run, immr), so ROL(value, immr) = run.
        var rotation: Int?
        for r in 0..<element {
            let rotated = r == 0 ? bits : ((bits << UInt64(r)) | (bits >> UInt64(element - r))) & mask
            if rotated == run {
                rotation = r
                break
            }
        }
        guard let rotation else { return nil }
        n = element == 64 ? 1 : 0
        immr = UInt32(rotation)
        imms = UInt32((~(element - 1) << 1) & 0x3f | (ones - 1))
    }

    /// `N:immr:imms` in place (bits 22, 21–16, 15–10).
    @inlinable var field: UInt32 { n << 22 | immr << 16 | imms << 10 }
}

/// Which 16-bit half-word a move-wide instruction writes: `hw` (Arm ARM,
/// C6.2 "MOVZ": shift 0, 16, 32 or 48; only 0 and 16 for W registers).
public enum MoveWideShift: UInt32, Sendable, CaseIterable {
    case lsl0 = 0, lsl16 = 1, lsl32 = 2, lsl48 = 3

    public var amount: Int { Int(rawValue) * 16 }
}
