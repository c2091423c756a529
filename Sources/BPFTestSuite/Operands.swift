import BPFISA

/// The operand values the suite sweeps, as lib/test_bpf.c does: powers of
/// two and their neighbours (where carries, borrows and sign changes happen)
/// and the signed boundaries of both widths.
enum Operands {
    /// 2^k - 1, 2^k and 2^k + 1 for every k below `bits`, without repeats.
    static func powersOfTwoAndNeighbours(bits: Int) -> [UInt64] {
        var seen = Set<UInt64>(), values: [UInt64] = []
        for k in 0..<bits {
            let p: UInt64 = 1 << UInt64(k)
            for v in [p &- 1, p, p &+ 1] where seen.insert(v).inserted { values.append(v) }
        }
        return values
    }

    static let sweep64 = powersOfTwoAndNeighbours(bits: 64)
    static let sweep32 = powersOfTwoAndNeighbours(bits: 32)

    /// INT_MIN, INT_MAX, -1, 0 and 1 at 32 and 64 bits (32-bit ones both
    /// zero- and sign-extended), and a value with unrelated high bits.
    static let boundaries: [UInt64] = [
        0, 1, UInt64.max,
        0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_ffff_8000_0000,
        0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000,
        0xdead_beef_0000_0002,
    ]

    /// The boundaries crossed with each other for two-register operations
    /// (all but the sign-extended 32-bit minimum and INT_MAX, which the sweeps reach).
    static let gridBoundaries: [UInt64] = [
        0, 1, UInt64.max, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x8000_0000_0000_0000, 0xdead_beef_0000_0002,
    ]

    /// The register values crossed with `immediateBoundaries`.
    static let immediateGridBoundaries: [UInt64] = [0, 1, UInt64.max, 0x8000_0000, 0x8000_0000_0000_0000, 0xdead_beef_0000_0002]

    /// A fixed, well-spread partner for the i-th sweep value, negated on odd
    /// steps so that signed operations see both signs.
    static func partner(_ i: Int, in values: [UInt64]) -> UInt64 {
        let v = values[(i &* 37 &+ 11) % values.count]
        return i % 2 == 1 ? 0 &- v : v
    }

    /// Unrelated high bits for 32-bit operands: a 32-bit operation must ignore them.
    static func highGarbage(_ i: Int) -> UInt64 {
        [0, 0xffff_ffff_0000_0000, 0x1234_5678_0000_0000, 0x8000_0000_0000_0000][i % 4]
    }

    /// A sample of (dst, src) operand pairs for one operation: every sweep
    /// value once as each operand, and the boundary grid.
    static func pairs(_ width: Width, sweeping: Bool = true) -> [(UInt64, UInt64)] {
        let sweep = width == .w64 ? sweep64 : sweep32
        var result: [(UInt64, UInt64)] = []
        for (i, a) in sweep.enumerated() where sweeping {
            let b = partner(i, in: sweep)
            result.append(width == .w64 ? (a, b) : (a | highGarbage(i), b | highGarbage(i + 1)))
        }
        for a in gridBoundaries { for b in gridBoundaries { result.append((a, b)) } }
        return result
    }

    /// Immediates at the boundaries of their 32 bits (and of 16, where
    /// sign-extension bugs in encoders tend to show).
    static let immediateBoundaries: [Int32] = [0, 1, -1, 2, .max, .min, 0x7fff, -0x8000, 0x1_0000]

    /// (dst, imm) pairs: every sweep value against a spread of immediates, and
    /// the boundary grid.
    static func immediatePairs(_ width: Width, sweeping: Bool = true) -> [(UInt64, Int32)] {
        let sweep = width == .w64 ? sweep64 : sweep32
        var result: [(UInt64, Int32)] = []
        for (i, a) in sweep.enumerated() where sweeping {
            let imm = Int32(truncatingIfNeeded: partner(i, in: sweep32))
            result.append((width == .w64 ? a : a | highGarbage(i), imm))
        }
        for a in immediateGridBoundaries { for imm in immediateBoundaries { result.append((a, imm)) } }
        return result
    }

    /// Pairs for comparisons: every power of two against itself, its
    /// neighbours and a partner (equality and off-by-one are where conditions
    /// differ; two of the four per power), and the boundary grid. For 32-bit
    /// comparisons the operands get different high bits, which JMP32 must ignore.
    static func comparisonPairs(_ width: Width) -> [(UInt64, UInt64)] {
        let sweep = width == .w64 ? sweep64 : sweep32
        var result: [(UInt64, UInt64)] = []
        for k in 0..<width.bits {
            let a: UInt64 = 1 << UInt64(k)
            let variants = k % 2 == 0 ? [a, a &+ 1] : [a &- 1, partner(k, in: sweep)]
            for (j, b) in variants.enumerated() {
                let i = 2 * k + j
                result.append(width == .w64 ? (a, b) : (a | highGarbage(i), b | highGarbage(i + 1)))
            }
        }
        for a in gridBoundaries { for b in gridBoundaries { result.append((a, b)) } }
        return result
    }

    /// (dst, imm) pairs for comparisons: the register equals the extended
    /// immediate, is one off, or is a sweep value; then the boundary grid.
    static func comparisonImmediatePairs(_ width: Width) -> [(UInt64, Int32)] {
        var result: [(UInt64, Int32)] = []
        for i in 0..<2 * width.bits {
            let imm = Int32(truncatingIfNeeded: partner(i, in: sweep32))
            let extended = width == .w64 ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))
            let dst = [extended, extended &+ 1, extended &- 1, 1 << UInt64(i / 2)][i % 4]
            result.append((width == .w64 ? dst : dst | highGarbage(i), imm))
        }
        for a in immediateGridBoundaries { for imm in immediateBoundaries { result.append((a, imm)) } }
        return result
    }

    /// Values whose bytes all differ, for byte swaps and memory.
    static let bytePatterns: [UInt64] = boundaries + [
        0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x8899_aabb_ccdd_eeff, 0x0102_0304_0506_0708,
        0x80ff_7f01_00fe_8001, 0x0000_0000_ffff_8000, 0xff00_ff00_ff00_ff00, 0x00ff_00ff_00ff_00ff,
    ]

    /// Registers the case at `index` uses: a destination, a different source
    /// and a scratch register distinct from both, all among r0–r9, rotating so
    /// that every register plays every role (as JITs map them differently).
    static func registers(_ index: Int) -> (dst: Register, src: Register, scratch: Register) {
        let dst = Register.all[(index &* 3 &+ 1) % 10]
        var src = Register.all[(index &* 7 &+ 4) % 10]
        if src == dst { src = Register.all[(src.index + 1) % 10] }
        var scratch = Register.all[(index &+ 7) % 10]
        while scratch == dst || scratch == src { scratch = Register.all[(scratch.index + 1) % 10] }
        return (dst, src, scratch)
    }
}

/// Helpers for naming cases.
extension UInt64 {
    var hex: String { "0x" + String(self, radix: 16) }
}
