import BPFISA

/// LD IMM64, loads and stores of every size, sign-extending loads.
enum MemoryCases {
    /// Each byte value that tends to break encoders (0x01, 0x7f, 0x80, 0xff)
    /// alone in every byte position and inverted, then whole-word patterns;
    /// loaded into every register in turn.
    static func loadImmediate64() -> [GeneratedCase] {
        var values: [UInt64] = []
        for position in 0..<8 {
            for byte: UInt64 in [0x01, 0x7f, 0x80, 0xff] {
                values.append(byte << UInt64(8 * position))
                values.append(~(byte << UInt64(8 * position)))
            }
        }
        values += Operands.bytePatterns + [0xffff_ffff_0000_0000, 0x0000_0001_0000_0000, 0x0000_0000_8000_0000]
        return values.enumerated().map { i, v in
            let dst = Operands.registers(i).dst
            let program: [Instruction] = [Build.lddw(dst, ~v), Build.lddw(dst, v), Build.mov64(.r0, dst), .exit]
            return GeneratedCase(name: "ld_imm64 \(dst): \(v.hex)", program: Program(program), expected: v)
        }
    }

    /// 40 input bytes, many with the high bit set so sign extension shows.
    static let inputPattern: [UInt8] = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 0x9d &+ 0x35) }

    /// `dst = *(size *)(base + offset)` at every offset of the input, with the
    /// base register moved 16 bytes in so that offsets are negative and positive.
    static func loads() -> [GeneratedCase] {
        var cases: [GeneratedCase] = []
        let plain: [(AccessSize, Bool)] = AccessSize.allCases.map { ($0, false) }
        let signExtending: [(AccessSize, Bool)] = [(.byte, true), (.half, true), (.word, true)]
        for (size, signed) in plain + signExtending {
            for offset in 0...(inputPattern.count - size.bytes) {
                let i = cases.count
                let (dst, base, _) = Operands.registers(i)
                let displacement = Int16(offset - 16)
                let load: Instruction = signed
                    ? .loadSignExtend(size, dst: dst, src: base, offset: displacement)
                    : .load(size, dst: dst, src: base, offset: displacement)
                let program: [Instruction] = [Build.mov64(base, .r1), .alu(.w64, .add, dst: base, .immediate(16)), load,
                                              Build.mov64(.r0, dst), .exit]
                let raw = Reference.load(inputPattern[offset..<offset + size.bytes])
                let expected = signed ? Reference.signExtend(raw, fromBits: 8 * size.bytes) : raw
                cases.append(GeneratedCase(name: "ldx\(signed ? "s" : "")\(size) \(dst), [\(base)\(displacement)]",
                                           program: Program(program), memory: inputPattern, expected: expected))
            }
        }
        return cases
    }

    /// A 16-byte window is prefilled, one store of `size` bytes lands at
    /// every offset inside it, and one of the window's two double words is
    /// read back: the stored bytes must appear and their neighbours stay.
    static func stores() -> [GeneratedCase] {
        let prefill: [UInt8] = (0..<16).map { UInt8(truncatingIfNeeded: 0xa0 &+ $0 &* 0x11) }
        var cases: [GeneratedCase] = []
        for size in AccessSize.allCases {
            for offset in 0...(16 - size.bytes) {
                for immediate in [false, true] {
                    for onStack in [false, true] {
                        for half in [0, 1] {
                            let i = cases.count
                            let value = Operands.bytePatterns[i % Operands.bytePatterns.count]
                            cases.append(store(size, at: offset, value: value, immediate: immediate, onStack: onStack,
                                               readBack: half, prefill: prefill, index: i))
                        }
                    }
                }
            }
        }
        return cases
    }

    private static func store(_ size: AccessSize, at offset: Int, value: UInt64, immediate: Bool, onStack: Bool,
                              readBack half: Int, prefill: [UInt8], index: Int) -> GeneratedCase {
        let regs = Operands.registers(index)
        // The window: [r10-16, r10) on the stack, [r1, r1+16) in the input.
        let origin: Register = onStack ? .r10 : .r1
        let windowStart: Int16 = onStack ? -16 : 0
        // Odd cases address the window through a copy of the base register.
        let base = index % 2 == 1 ? regs.scratch : origin
        let src = regs.src == base || regs.src == origin ? regs.dst : regs.src
        var program: [Instruction] = []
        if onStack {
            program += [Build.lddw(src, Reference.load(prefill[0..<8])), .store(.double, dst: .r10, offset: -16, src: src),
                        Build.lddw(src, Reference.load(prefill[8..<16])), .store(.double, dst: .r10, offset: -8, src: src)]
        }
        if base != origin { program.append(Build.mov64(base, origin)) }
        let at = windowStart + Int16(offset)
        let stored: UInt64
        if immediate {
            let imm = Int32(truncatingIfNeeded: value)
            program.append(.storeImmediate(size, dst: base, offset: at, imm: imm))
            stored = UInt64(bitPattern: Int64(imm))
        } else {
            program += [Build.lddw(src, value), .store(size, dst: base, offset: at, src: src)]
            stored = value
        }
        program += [.load(.double, dst: .r0, src: base, offset: windowStart + Int16(8 * half)), .exit]

        var window = prefill
        window.replaceSubrange(offset..<offset + size.bytes, with: Reference.storeBytes(stored, size: size.bytes))
        let form = immediate ? "st" : "stx"
        return GeneratedCase(
            name: "\(form)\(size) [\(base)\(at >= 0 ? "+" : "")\(at)] on \(onStack ? "stack" : "input"), read dword \(half): \(stored.hex)",
            program: Program(program), memory: onStack ? [] : prefill + [0, 0, 0, 0, 0, 0, 0, 0],
            expected: Reference.load(window[8 * half..<8 * half + 8]))
    }
}
