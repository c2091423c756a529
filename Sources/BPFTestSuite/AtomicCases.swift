import BPFISA

/// Every atomic operation on 32 and 64 bits, on the stack.
///
/// Each scenario (operation, width, memory value, operand, r0) is run three
/// times, returning a different observation: the double word around the
/// target (so a 32-bit atomic that spills into its neighbour shows), the
/// source register afterwards (the fetched value, or unchanged), and r0
/// afterwards (CMPXCHG's old value, or unchanged).
enum AtomicCases {
    enum Observation: CaseIterable { case memory, source, r0 }

    /// (memory double word, source operand) pairs.
    static let operands: [(UInt64, UInt64)] = [
        (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
        (0xffff_ffff_ffff_ffff, 1),
        (0x0000_0000_ffff_ffff, 0x0000_0000_0000_0001),
        (0x7fff_ffff_7fff_ffff, 0x8000_0000_8000_0001),
        (0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff),
        (0, 0),
        (0xdead_beef_cafe_f00d, 0x1111_2222_3333_4444),
        (0x5555_5555_aaaa_aaaa, 0xaaaa_aaaa_5555_5555),
    ]

    static func all() -> [GeneratedCase] {
        var cases: [GeneratedCase] = []
        for width in [Width.w64, .w32] {
            for op in AtomicOperation.all {
                for (j, (memory, source)) in operands.enumerated() {
                    // CMPXCHG succeeds when r0 equals the old value (for 32 bits:
                    // its low half; the high half is made to differ) and fails otherwise.
                    let offset: Int16 = width == .w32 && j % 2 == 1 ? -4 : -8
                    let old = Reference.load(bytes(memory)[Int(offset + 8)..<Int(offset + 8) + (width == .w64 ? 8 : 4)])
                    let comparands: [UInt64] = op == .cmpxchg
                        ? [width == .w64 ? old : old | 0xabcd_0000_0000_0000, old ^ 0x10]
                        : [0x0777_0000_0000_0777]
                    for comparand in comparands {
                        for observation in Observation.allCases {
                            cases.append(scenario(op, width, memory: memory, source: source, comparand: comparand,
                                                  offset: offset, observe: observation, index: cases.count))
                        }
                    }
                }
            }
        }
        return cases
    }

    static func bytes(_ dword: UInt64) -> [UInt8] { Reference.storeBytes(dword, size: 8) }

    private static func scenario(_ op: AtomicOperation, _ width: Width, memory: UInt64, source: UInt64, comparand: UInt64,
                                 offset: Int16, observe: Observation, index: Int) -> GeneratedCase {
        // Registers: r0 is the comparand; src and (for odd cases) a copy of r10 rotate over r1–r9.
        let src = Register.all[1 + index % 9]
        let base: Register = index % 2 == 1 ? Register.all[1 + (index + 4) % 9] : .r10
        var program: [Instruction] = [Build.lddw(src, memory), .store(.double, dst: .r10, offset: -8, src: src),
                                      Build.lddw(src, source), Build.lddw(.r0, comparand)]
        if base != .r10 { program.append(Build.mov64(base, .r10)) }
        program.append(.atomic(width, op, dst: base, offset: offset, src: src))
        switch observe {
        case .memory: program.append(.load(.double, dst: .r0, src: .r10, offset: -8))
        case .source: program.append(Build.mov64(.r0, src))
        case .r0: break
        }
        program.append(.exit)

        // The expected state, from the RFC: the target word, its neighbour untouched.
        let size = width == .w64 ? 8 : 4
        let start = Int(offset + 8)
        var window = bytes(memory)
        let old = Reference.load(window[start..<start + size])
        let result = Reference.atomic(op, width, memory: old, src: source, comparand: comparand)
        window.replaceSubrange(start..<start + size, with: Reference.storeBytes(result.memory, size: size))
        let expected: UInt64 = switch observe {
        case .memory: Reference.load(window[0..<8])
        case .source: op.fetches && op != .cmpxchg ? result.old : source
        case .r0: op == .cmpxchg ? result.old : comparand
        }
        let outcome = op == .cmpxchg ? (result.old == comparand & (width == .w64 ? .max : 0xffff_ffff) ? " (equal)" : " (differs)") : ""
        return GeneratedCase(
            name: "atomic\(width.bits) \(op)\(outcome) [\(base)\(offset)], \(src): mem \(memory.hex), src \(source.hex), r0 \(comparand.hex) -> \(observe)",
            program: Program(program), expected: expected)
    }
}
