import BPFISA
import BPFJIT

extension Arm64Backend {
    /// dst = dst op operand, for every ALU and ALU64 operation. W forms write
    /// the low half and zero the upper one (Arm ARM, chapter C1, "Registers in AArch64 state"), so 32-bit
    /// results need no extra instruction. Immediates take the instruction's
    /// immediate form where one exists (ADD/SUB imm12, logical bitmasks,
    /// shift amounts, move-wide), else go through x10.
    mutating func lowerALU(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: Arm64Encoder) {
        let s = Arm64Size(width), d = Arm64RegisterMap.native(dst)
        switch operand {
        case .register(let srcRegister):
            let m = Arm64RegisterMap.native(srcRegister)
            switch operation {
            case .add: e.add(s, d, d, m)                            /* add dst, dst, src */
            case .sub: e.sub(s, d, d, m)                            /* sub dst, dst, src */
            case .and: e.and(s, d, d, m)                            /* and dst, dst, src */
            case .or: e.orr(s, d, d, m)                             /* orr dst, dst, src */
            case .xor: e.eor(s, d, d, m)                            /* eor dst, dst, src */
            case .mul: e.mul(s, d, d, m)                            /* mul dst, dst, src */
            case .mov:
                if s == .w || d != m { e.mov(s, d, m) }             /* mov dst, src (W: zero-extends) */
            case .lsh: e.lslv(s, d, d, m)                           /* lsl dst, dst, src (count mod size) */
            case .rsh: e.lsrv(s, d, d, m)                           /* lsr dst, dst, src */
            case .arsh: e.asrv(s, d, d, m)                          /* asr dst, dst, src */
            case .div, .mod, .sdiv, .smod: divide(operation, s, d, by: m, e)
            }
        case .immediate(let imm):
            // ALU64 sign-extends the immediate; ALU32 uses its 32 bits.
            let value: UInt64 = s == .x ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))
            let scratch = Arm64RegisterMap.immediate
            switch operation {
            case .add:
                addImmediate(s, d, d, Int64(imm), e)
            case .sub:
                addImmediate(s, d, d, -Int64(imm), e)
            case .and, .or, .xor:
                logicalImmediate(operation, s, d, value, e)
            case .mov:
                if s == .x { loadConstant(d, value, e) } else { loadConstant32(d, UInt32(value), e) }
            case .mul:
                materialize(s, scratch, value, e)
                e.mul(s, d, d, scratch)                             /* mul dst, dst, x10 */
            case .lsh, .rsh, .arsh:
                let count = UInt32(truncatingIfNeeded: imm) & UInt32(s.bits - 1)
                if count == 0 {
                    if s == .w { e.mov(.w, d, d) }                  /* mov wd, wd: zero-extend */
                } else if operation == .lsh {
                    e.lsl(s, d, d, count)                           /* lsl dst, dst, #count */
                } else if operation == .rsh {
                    e.lsr(s, d, d, count)                           /* lsr dst, dst, #count */
                } else {
                    e.asr(s, d, d, count)                           /* asr dst, dst, #count */
                }
            case .div, .mod, .sdiv, .smod:
                divideByConstant(operation, s, d, value, e)
            }
        }
    }

    /// rd = rn + value, in one ADD/SUB immediate, two (a shifted part and the
    /// rest), or through x10. rn and rd may be sp.
    func addImmediate(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ value: Int64, _ e: Arm64Encoder) {
        let magnitude = value.magnitude
        let add = value >= 0
        if magnitude == 0 {
            if s == .w || rd != rn { e.add(s, rd, rn, ArithmeticImmediate(0)!) } /* add rd, rn, #0 (W: zero-extends) */
        } else if let imm = ArithmeticImmediate(magnitude) {
            if add { e.add(s, rd, rn, imm) } else { e.sub(s, rd, rn, imm) } /* add/sub rd, rn, #imm */
        } else if magnitude < 1 << 24 {
            let high = ArithmeticImmediate(magnitude & 0xff_f000)!, low = ArithmeticImmediate(magnitude & 0xfff)!
            if add {
                e.add(s, rd, rn, high)                              /* add rd, rn, #hi, lsl #12 */
                e.add(s, rd, rd, low)                               /* add rd, rd, #lo */
            } else {
                e.sub(s, rd, rn, high)                              /* sub rd, rn, #hi, lsl #12 */
                e.sub(s, rd, rd, low)                               /* sub rd, rd, #lo */
            }
        } else {
            let scratch = Arm64RegisterMap.immediate
            guard rd != .sp, rn != .sp, rn != scratch else { return e.poison("adjustment of \(value) through x10") }
            materialize(s, scratch, add ? magnitude : UInt64(bitPattern: value), e)
            e.add(s, rd, rn, scratch)                               /* add rd, rn, x10 */
        }
    }

    /// AND/ORR/EOR with an immediate: the bitmask form when the value is one;
    /// 0 and all-ones through the zero register (`and d, d, xzr` clears,
    /// `orn d, d, xzr` sets every bit, `orn d, xzr, d` inverts); else x10.
    func logicalImmediate(_ operation: ALUOperation, _ s: Arm64Size, _ d: Arm64Register, _ value: UInt64, _ e: Arm64Encoder) {
        let ones: UInt64 = s == .x ? .max : 0xffff_ffff
        if let imm = LogicalImmediate(value, size: s) {
            switch operation {
            case .and: e.and(s, d, d, imm)                          /* and dst, dst, #imm */
            case .or: e.orr(s, d, d, imm)                           /* orr dst, dst, #imm */
            default: e.eor(s, d, d, imm)                            /* eor dst, dst, #imm */
            }
        } else if value == 0 {
            switch operation {
            case .and: e.and(s, d, d, .zr)                          /* and dst, dst, xzr: 0 */
            default: if s == .w { e.mov(.w, d, d) }                 /* x | 0, x ^ 0: zero-extend only */
            }
        } else if value == ones {
            switch operation {
            case .and: if s == .w { e.mov(.w, d, d) }               /* x & ~0: zero-extend only */
            case .or: e.orn(s, d, d, .zr)                           /* orn dst, dst, xzr: all ones */
            default: e.mvn(s, d, d)                                 /* mvn dst, dst */
            }
        } else {
            let scratch = Arm64RegisterMap.immediate
            materialize(s, scratch, value, e)
            switch operation {
            case .and: e.and(s, d, d, scratch)                      /* and dst, dst, x10 */
            case .or: e.orr(s, d, d, scratch)                       /* orr dst, dst, x10 */
            default: e.eor(s, d, d, scratch)                        /* eor dst, dst, x10 */
            }
        }
    }

    /// Division and modulo with RFC 9669 semantics, which AArch64 division
    /// already has: UDIV and SDIV return 0 for a zero divisor and MIN for
    /// MIN / -1, and never trap. The remainder is `dst - (dst / src) * src`
    /// (MSUB), which gives x % 0 = x and MIN % -1 = 0, with the dividend's sign.
    func divide(_ operation: ALUOperation, _ s: Arm64Size, _ d: Arm64Register, by m: Arm64Register, _ e: Arm64Encoder) {
        let quotient = Arm64RegisterMap.scratch11
        switch operation {
        case .div: e.udiv(s, d, d, m)                               /* udiv dst, dst, src */
        case .sdiv: e.sdiv(s, d, d, m)                              /* sdiv dst, dst, src */
        case .mod:
            e.udiv(s, quotient, d, m)                               /* udiv x11, dst, src */
            e.msub(s, d, quotient, m, d)                            /* msub dst, x11, src, dst: dst - x11 * src */
        default:
            e.sdiv(s, quotient, d, m)                               /* sdiv x11, dst, src */
            e.msub(s, d, quotient, m, d)                            /* msub dst, x11, src, dst */
        }
    }

    /// Division by a constant: unsigned powers of two become shifts and
    /// masks; everything else divides by the constant in x10.
    func divideByConstant(_ operation: ALUOperation, _ s: Arm64Size, _ d: Arm64Register, _ value: UInt64, _ e: Arm64Encoder) {
        if value != 0, value & (value - 1) == 0, operation == .div || operation == .mod {
            let shift = UInt32(value.trailingZeroBitCount)
            if operation == .div {
                if shift == 0 {
                    if s == .w { e.mov(.w, d, d) }                  /* x / 1: zero-extend only */
                } else {
                    e.lsr(s, d, d, shift)                           /* lsr dst, dst, #log2(imm) */
                }
            } else if shift == 0 {
                e.movz(s, d, 0)                                     /* x % 1 = 0 */
            } else {
                e.and(s, d, d, LogicalImmediate(value - 1, size: s)!) /* and dst, dst, #(imm - 1) */
            }
            return
        }
        let scratch = Arm64RegisterMap.immediate
        materialize(s, scratch, value, e)
        divide(operation, s, d, by: scratch, e)
    }

    /// Byte-order conversions; the target is little-endian.
    func lowerByteSwap(_ kind: ByteSwapKind, dst: Register, bits: UInt8, _ e: Arm64Encoder) {
        let d = Arm64RegisterMap.native(dst)
        if kind == .toLittleEndian {
            switch bits {
            case 16: e.zeroExtend(d, d, bits: 16)                   /* uxth wd, wd */
            case 32: e.mov(.w, d, d)                                /* mov wd, wd */
            default: break                                          /* le64: nothing to do */
            }
            return
        }
        switch bits {
        case 16:
            e.rev16(.w, d, d)                                       /* rev16 wd, wd */
            e.zeroExtend(d, d, bits: 16)                            /* uxth wd, wd */
        case 32: e.rev(.w, d, d)                                    /* rev wd, wd */
        default: e.rev(.x, d, d)                                    /* rev xd, xd */
        }
    }

    // MARK: Constants

    /// rd = value at size `s` (W: the low 32 bits, zero-extended).
    func materialize(_ s: Arm64Size, _ rd: Arm64Register, _ value: UInt64, _ e: Arm64Encoder) {
        if s == .x { loadConstant(rd, value, e) } else { loadConstant32(rd, UInt32(truncatingIfNeeded: value), e) }
    }

    /// rd = a 32-bit constant, zero-extended, in one instruction when MOVZ,
    /// MOVN or an ORR bitmask can make it, else MOVZ + MOVK.
    func loadConstant32(_ rd: Arm64Register, _ value: UInt32, _ e: Arm64Encoder) {
        let low = UInt16(value & 0xffff), high = UInt16(value >> 16)
        if high == 0 {
            e.movz(.w, rd, low)                                     /* movz wd, #lo */
        } else if low == 0 {
            e.movz(.w, rd, high, .lsl16)                            /* movz wd, #hi, lsl #16 */
        } else if high == 0xffff {
            e.movn(.w, rd, ~low)                                    /* movn wd, #~lo */
        } else if low == 0xffff {
            e.movn(.w, rd, ~high, .lsl16)                           /* movn wd, #~hi, lsl #16 */
        } else if let imm = LogicalImmediate(UInt64(value), size: .w) {
            e.orr(.w, rd, .zr, imm)                                 /* orr wd, wzr, #bitmask */
        } else {
            e.movz(.w, rd, low)                                     /* movz wd, #lo */
            e.movk(.w, rd, high, .lsl16)                            /* movk wd, #hi, lsl #16 */
        }
    }

    /// rd = a 64-bit constant in the fewest instructions of: the 32-bit
    /// forms (zero-extending), one ORR bitmask, MOVZ + MOVKs for the nonzero
    /// half-words, MOVN + MOVKs for those not 0xffff (the kernel's
    /// `emit_a64_mov_i64`, with the bitmask form added).
    func loadConstant(_ rd: Arm64Register, _ value: UInt64, _ e: Arm64Encoder) {
        if value <= 0xffff_ffff {
            loadConstant32(rd, UInt32(value), e)
            return
        }
        let chunks = (0..<4).map { UInt16(truncatingIfNeeded: value >> (16 * UInt64($0))) }
        let zeroCount = chunks.filter { $0 != 0 }.count
        let onesCount = chunks.filter { $0 != 0xffff }.count
        if min(zeroCount, onesCount) > 1, let imm = LogicalImmediate(value, size: .x) {
            e.orr(.x, rd, .zr, imm)                                 /* orr xd, xzr, #bitmask */
            return
        }
        let inverted = onesCount < zeroCount
        var first = true
        for (k, chunk) in chunks.enumerated() {
            let shift = MoveWideShift(rawValue: UInt32(k))!
            if inverted {
                guard chunk != 0xffff else { continue }
                if first { e.movn(.x, rd, ~chunk, shift) } else { e.movk(.x, rd, chunk, shift) } /* movn/movk xd, #chunk, lsl #16k */
            } else {
                guard chunk != 0 else { continue }
                if first { e.movz(.x, rd, chunk, shift) } else { e.movk(.x, rd, chunk, shift) } /* movz/movk xd, #chunk, lsl #16k */
            }
            first = false
        }
        if first { e.movn(.x, rd, 0) }                              /* movn xd, #0: all ones */
    }
}
