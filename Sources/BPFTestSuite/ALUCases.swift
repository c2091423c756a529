import BPFISA

/// ALU (32-bit) or ALU64 cases: two-operand operations, shifts, and the
/// one-operand NEG, MOVSX and byte swaps.
struct ALUCases {
    let width: Width

    var prefix: String { width == .w64 ? "alu64" : "alu32" }

    /// The two-operand operations whose operands are swept (shifts have their own sweep).
    static let sweptOperations: [ALUOperation] = [.add, .sub, .mul, .div, .sdiv, .mod, .smod, .or, .and, .xor, .mov]
    static let shiftOperations: [ALUOperation] = [.lsh, .rsh, .arsh]

    func all() -> [GeneratedCase] {
        var cases: [GeneratedCase] = []
        for op in Self.sweptOperations {
            // MOV has no arithmetic to sweep: the boundaries show whether it copies and extends.
            cases += registerForm(op, pairs: Operands.pairs(width, sweeping: op != .mov))
            cases += immediateForm(op, pairs: Operands.immediatePairs(width, sweeping: op != .mov))
            cases += sourceIsDestination(op, values: Operands.boundaries)
        }
        cases += shifts()
        cases += negations()
        cases += signExtendingMoves()
        cases += byteSwaps()
        return cases
    }

    /// `dst op= src` with distinct registers; the program also checks that
    /// `src` survives (a JIT that clobbers its source fails here).
    func registerForm(_ op: ALUOperation, pairs: [(UInt64, UInt64)]) -> [GeneratedCase] {
        pairs.enumerated().map { i, pair in
            let (a, b) = pair
            let (dst, src, scratch) = Operands.registers(i)
            let program: [Instruction] = [Build.lddw(dst, a), Build.lddw(src, b), .alu(width, op, dst: dst, .register(src))]
                + Build.returnIfUnchanged(src, equals: b, scratch: scratch, result: dst)
            return GeneratedCase(name: "\(prefix) \(op) \(dst), \(src): \(a.hex), \(b.hex)",
                                 program: Program(program), expected: Reference.alu(op, width, a, b))
        }
    }

    /// `dst op= imm`: the immediate is sign-extended for ALU64, used as 32 bits for ALU.
    func immediateForm(_ op: ALUOperation, pairs: [(UInt64, Int32)]) -> [GeneratedCase] {
        pairs.enumerated().map { i, pair in
            let (a, imm) = pair
            let dst = Operands.registers(i).dst
            let program: [Instruction] = [Build.lddw(dst, a), .alu(width, op, dst: dst, .immediate(imm)), Build.mov64(.r0, dst), .exit]
            return GeneratedCase(name: "\(prefix) \(op) \(dst), imm: \(a.hex), \(imm)", program: Program(program),
                                 expected: Reference.alu(op, width, a, Reference.immediate(imm, width)))
        }
    }

    /// `dst op= dst`.
    func sourceIsDestination(_ op: ALUOperation, values: [UInt64]) -> [GeneratedCase] {
        values.enumerated().map { i, a in
            let dst = Operands.registers(i).dst
            let program: [Instruction] = [Build.lddw(dst, a), .alu(width, op, dst: dst, .register(dst)), Build.mov64(.r0, dst), .exit]
            return GeneratedCase(name: "\(prefix) \(op) \(dst), \(dst): \(a.hex)", program: Program(program),
                                 expected: Reference.alu(op, width, a, a))
        }
    }

    /// Every shift amount 0...63 in both forms, plus amounts outside the
    /// width that the mask must bring back into range.
    func shifts() -> [GeneratedCase] {
        let amounts: [UInt64] = Array(0..<64) + [64, 65, 96, 127, 128, 255, 0xffff_ffff, .max, 0x1_0000_0003, 0x8000_0000_0000_0021]
        let values: [UInt64] = [0x8000_0000_0000_0001, 0xfedc_ba98_7654_3210, 1, .max, 0x8000_0000, 0x7fff_ffff, 0x0123_4567_89ab_cdef]
        var cases: [GeneratedCase] = []
        for op in Self.shiftOperations {
            for (i, amount) in amounts.enumerated() {
                cases += registerForm(op, pairs: [(values[i % values.count], amount)])
                cases += immediateForm(op, pairs: [(values[(i + 3) % values.count], Int32(truncatingIfNeeded: amount))])
            }
        }
        return cases
    }

    func negations() -> [GeneratedCase] {
        (Operands.sweep64 + Operands.boundaries).enumerated().map { i, a in
            let dst = Operands.registers(i).dst
            let program: [Instruction] = [Build.lddw(dst, a), .neg(width, dst: dst), Build.mov64(.r0, dst), .exit]
            return GeneratedCase(name: "\(prefix) neg \(dst): \(a.hex)", program: Program(program), expected: Reference.neg(width, a))
        }
    }

    /// MOVSX from 8 and 16 bits (and 32 for ALU64), from a different register.
    func signExtendingMoves() -> [GeneratedCase] {
        let sizes = width == .w64 ? [8, 16, 32] : [8, 16]
        var cases: [GeneratedCase] = []
        for bits in sizes {
            for (i, a) in (Operands.sweep64 + Operands.boundaries).enumerated() {
                let (dst, src, scratch) = Operands.registers(i)
                let program: [Instruction] = [Build.lddw(dst, 0x5a5a_5a5a_5a5a_5a5a), Build.lddw(src, a),
                                              .movsx(width, dst: dst, src: src, bits: UInt8(bits))]
                    + Build.returnIfUnchanged(src, equals: a, scratch: scratch, result: dst)
                cases.append(GeneratedCase(name: "\(prefix) movsx\(bits) \(dst), \(src): \(a.hex)", program: Program(program),
                                           expected: Reference.movsx(width, bits: bits, a)))
            }
        }
        return cases
    }

    /// ALU64: BSWAP 16/32/64. ALU: LE and BE 16/32/64.
    func byteSwaps() -> [GeneratedCase] {
        let kinds: [ByteSwapKind] = width == .w64 ? [.swap] : [.toLittleEndian, .toBigEndian]
        let values = Operands.bytePatterns + Operands.sweep64.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
        var cases: [GeneratedCase] = []
        for kind in kinds {
            for bits in [16, 32, 64] {
                for (i, a) in values.enumerated() {
                    let dst = Operands.registers(i).dst
                    let program: [Instruction] = [Build.lddw(dst, a), .byteSwap(kind, dst: dst, bits: UInt8(bits)), Build.mov64(.r0, dst), .exit]
                    cases.append(GeneratedCase(name: "\(prefix) \(kind)\(bits) \(dst): \(a.hex)", program: Program(program),
                                               expected: Reference.byteSwap(kind, bits: bits, a)))
                }
            }
        }
        return cases
    }
}
