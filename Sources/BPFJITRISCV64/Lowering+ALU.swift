import BPFISA
import BPFJIT

extension RV64Backend {
    /// Zero-extends the low 32 bits of `d` (BPF's ALU32 result rule): RV64's
    /// W instructions sign-extend their results, so every 32-bit result
    /// ends with `slli d, d, 32; srli d, d, 32`, or Zba's `zext.w d, d`.
    func zext(_ d: RV64Register, _ e: RV64Encoder) { e.zeroExtend32(d, d) }

    /// dst = dst op operand, for every ALU and ALU64 operation.
    mutating func lowerALU(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: RV64Encoder) {
        let d = RV64RegisterMap.native(dst), wide = width == .w64
        let source: RV64Register
        switch operand {
        case .register(let register):
            source = RV64RegisterMap.native(register)
        case .immediate(let imm):
            if lowerALUImmediate(width, operation, d, Int64(imm), e) { return }
            // ALU64 sign-extends the immediate; ALU32 uses its 32 bits.
            let value = wide ? Int64(imm) : Int64(UInt32(bitPattern: imm))
            source = RV64RegisterMap.immediate
            e.loadImmediate(source, value)                  /* li t2, imm */
        }
        let s = source
        switch operation {
        case .add: if wide { e.add(d, d, s) } else { e.addw(d, d, s); zext(d, e) }   /* add(w) */
        case .sub: if wide { e.sub(d, d, s) } else { e.subw(d, d, s); zext(d, e) }   /* sub(w) */
        case .mul: if wide { e.mul(d, d, s) } else { e.mulw(d, d, s); zext(d, e) }   /* mul(w) */
        case .and: e.and(d, d, s); if !wide { zext(d, e) }                           /* and */
        case .or: e.or(d, d, s); if !wide { zext(d, e) }                             /* or */
        case .xor: e.xor(d, d, s); if !wide { zext(d, e) }                           /* xor */
        case .mov: if wide { if d != s { e.mv(d, s) } } else { e.zeroExtend32(d, s) } /* mv / zext.w */
        case .lsh: if wide { e.sll(d, d, s) } else { e.sllw(d, d, s); zext(d, e) }   /* sll(w): count mod size */
        case .rsh: if wide { e.srl(d, d, s) } else { e.srlw(d, d, s); zext(d, e) }   /* srl(w) */
        case .arsh: if wide { e.sra(d, d, s) } else { e.sraw(d, d, s); zext(d, e) }  /* sra(w) */
        case .div, .sdiv, .mod, .smod: divide(operation, wide: wide, d, by: s, e)
        }
    }

    /// The immediate forms (`addi`, `andi`, shifts by a constant, `li`);
    /// false when the operation needs the immediate in a register.
    func lowerALUImmediate(_ width: Width, _ operation: ALUOperation, _ d: RV64Register, _ imm: Int64, _ e: RV64Encoder) -> Bool {
        let wide = width == .w64
        switch operation {
        case .mov:
            e.loadImmediate(d, wide ? imm : Int64(UInt32(truncatingIfNeeded: imm))) /* li dst, imm */
        case .add, .sub:
            let value = operation == .add ? imm : -imm
            guard RV64Encoder.fits12(value) else { return false }
            if wide { e.addi(d, d, value) } else { e.addiw(d, d, value); zext(d, e) } /* addi(w) dst, dst, imm */
        case .and, .or, .xor:
            guard RV64Encoder.fits12(imm) else { return false }
            switch operation {
            case .and: e.andi(d, d, imm)                    /* andi dst, dst, imm */
            case .or: e.ori(d, d, imm)                      /* ori dst, dst, imm */
            default: e.xori(d, d, imm)                      /* xori dst, dst, imm */
            }
            if !wide { zext(d, e) }
        case .lsh, .rsh, .arsh:
            let count = UInt32(truncatingIfNeeded: imm) & (wide ? 63 : 31)
            if wide {
                switch operation {
                case .lsh: e.slli(d, d, count)              /* slli dst, dst, n */
                case .rsh: e.srli(d, d, count)              /* srli dst, dst, n */
                default: e.srai(d, d, count)                /* srai dst, dst, n */
                }
            } else {
                switch operation {
                case .lsh: e.slliw(d, d, count)             /* slliw dst, dst, n */
                case .rsh: e.srliw(d, d, count)             /* srliw dst, dst, n */
                default: e.sraiw(d, d, count)               /* sraiw dst, dst, n */
                }
                zext(d, e)
            }
        default:
            return false
        }
        return true
    }

    /// Division and remainder with RFC 9669's results. RV64M already gives
    /// x % 0 = x (REM/REMU return the dividend), MIN / -1 = MIN and
    /// MIN % -1 = 0, and never traps; only x / 0 differs (all ones or -1,
    /// where BPF wants 0), so the quotients branch around a zero divisor
    /// (its low 32 bits for ALU32: `slli t3, src, 32`).
    func divide(_ operation: ALUOperation, wide: Bool, _ d: RV64Register, by s: RV64Register, _ e: RV64Encoder) {
        switch operation {
        case .mod: if wide { e.remu(d, d, s) } else { e.remuw(d, d, s); zext(d, e) }   /* remu(w) */
        case .smod: if wide { e.rem(d, d, s) } else { e.remw(d, d, s); zext(d, e) }    /* rem(w) */
        default:
            let byZero = e.asm.makeLabel(), done = e.asm.makeLabel()
            if wide {
                e.branch(.eq, s, .zero, byZero)             /* beqz src, by zero */
            } else {
                e.slli(.t3, s, 32)                          /* slli t3, src, 32: the divisor's low half */
                e.branch(.eq, .t3, .zero, byZero)           /* beqz t3, by zero */
            }
            switch (operation, wide) {
            case (.div, true): e.divu(d, d, s)              /* divu dst, dst, src */
            case (.div, false): e.divuw(d, d, s); zext(d, e) /* divuw dst, dst, src */
            case (_, true): e.div(d, d, s)                  /* div dst, dst, src */
            default: e.divw(d, d, s); zext(d, e)            /* divw dst, dst, src */
            }
            e.j(done)                                       /* j done */
            e.asm.bind(byZero)
            e.mv(d, .zero)                                  /* li dst, 0 */
            e.asm.bind(done)
        }
    }

    /// movsx: sign-extend the low 8, 16 or 32 bits of src; MOVSX32 then
    /// zero-extends the 32-bit result. With Zbb, `sext.b`/`sext.h` (the
    /// kernel's `emit_sextb`/`emit_sexth`); without, a shift pair (`slli` to
    /// the top, `srai` down; for MOVSX32 down to bit 32, then `srli 32`).
    func lowerMovsx(_ width: Width, dst: Register, src: Register, bits: Int, _ e: RV64Encoder) {
        let d = RV64RegisterMap.native(dst), s = RV64RegisterMap.native(src)
        if bits == 32 {
            if width == .w64 { e.addiw(d, s, 0) } else { e.zeroExtend32(d, s) } /* sext.w / zext.w dst, src */
            return
        }
        if options.zbb {
            if bits == 8 { e.sextb(d, s) } else { e.sexth(d, s) }  /* sext.b / sext.h dst, src */
            if width == .w32 { zext(d, e) }                 /* zext.w dst, dst */
        } else if width == .w64 {
            e.slli(d, s, UInt32(64 - bits))                 /* slli dst, src, 64-bits */
            e.srai(d, d, UInt32(64 - bits))                 /* srai dst, dst, 64-bits */
        } else {
            e.slli(d, s, UInt32(64 - bits))                 /* slli dst, src, 64-bits */
            e.srai(d, d, UInt32(32 - bits))                 /* srai dst, dst, 32-bits: the 32-bit value in bits 32–63 */
            e.srli(d, d, 32)                                /* srli dst, dst, 32 */
        }
    }

    /// Byte-order conversions; the target is little-endian. With Zbb a swap
    /// is `rev8` and a shift of the swapped bytes down (the kernel's
    /// `emit_bswap`), `le16` is `zext.h`; without, a swap collects the bytes
    /// one at a time (the kernel's `emit_rev`).
    func lowerByteSwap(_ kind: ByteSwapKind, dst: Register, bits: Int, _ e: RV64Encoder) {
        let d = RV64RegisterMap.native(dst)
        if kind == .toLittleEndian {
            switch bits {
            case 16 where options.zbb:
                e.zexth(d, d)                               /* zext.h dst, dst */
            case 16:
                e.slli(d, d, 48)                            /* slli dst, dst, 48 */
                e.srli(d, d, 48)                            /* srli dst, dst, 48 */
            case 32: zext(d, e)
            default: break                                  /* le64: nothing to do */
            }
            return
        }
        if options.zbb {
            e.rev8(d, d)                                    /* rev8 dst, dst */
            if bits < 64 { e.srli(d, d, UInt32(64 - bits)) } /* srli dst, dst, 64-bits */
            return
        }
        let result = RV64Register.t3, byte = RV64Register.t4
        let count = bits / 8
        e.andi(result, d, 0xff)                             /* andi t3, dst, 0xff */
        for _ in 1..<count {
            e.slli(result, result, 8)                       /* slli t3, t3, 8 */
            e.srli(d, d, 8)                                 /* srli dst, dst, 8 */
            e.andi(byte, d, 0xff)                           /* andi t4, dst, 0xff */
            e.or(result, result, byte)                      /* or t3, t3, t4 */
        }
        e.mv(d, result)                                     /* mv dst, t3 */
    }
}
