import BPFISA
import BPFJIT

extension X86_64Backend {
    /// dst = dst op operand, for every ALU and ALU64 operation.
    /// 32-bit forms zero-extend by themselves (writes to a 32-bit register
    /// clear the upper half, SDM vol. 1, 3.4.1.1), so no extra `mov` follows.
    mutating func lowerALU(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: X86Encoder) {
        let size = OperandSize(width), d = RegisterMap.native(dst)
        switch operand {
        case .register(let srcRegister):
            let s = RegisterMap.native(srcRegister)
            switch operation {
            case .add: e.arith(.add, size, d, s)                    /* add dst, src */
            case .sub: e.arith(.sub, size, d, s)                    /* sub dst, src */
            case .and: e.arith(.and, size, d, s)                    /* and dst, src */
            case .or: e.arith(.or, size, d, s)                      /* or dst, src */
            case .xor: e.arith(.xor, size, d, s)                    /* xor dst, src */
            case .mul: e.imul(size, d, s)                           /* imul dst, src */
            case .mov:
                if width == .w32 || d != s { e.mov(size, d, s) }    /* mov dst, src (32-bit: zero-extends) */
            case .lsh: shiftByRegister(.shl, size, d, s, e)
            case .rsh: shiftByRegister(.shr, size, d, s, e)
            case .arsh: shiftByRegister(.sar, size, d, s, e)
            case .div, .mod, .sdiv, .smod:
                e.mov(.qword, .r11, s)                              /* mov r11, src: divisor */
                divide(operation, size, d, checkDivisor: true, e)
            }
        case .immediate(let imm):
            switch operation {
            case .add, .sub, .and, .or, .xor:
                let kind: ArithmeticKind = switch operation {
                case .add: .add
                case .sub: .sub
                case .and: .and
                case .or: .or
                default: .xor
                }
                if imm == 0 && kind != .and {
                    if width == .w32 { e.mov(.dword, d, d) }        /* mov dst32, dst32: zero-extend */
                } else if kind == .and && (imm == 0xff || imm == 0xffff) {
                    e.movzx(d, d, from: imm == 0xff ? .byte : .word) /* movzx dst32, dst8/dst16: the mask, shorter */
                } else {
                    e.arith(kind, size, d, imm: imm)                /* op dst, imm */
                }
            case .mov:
                if width == .w64 && imm < 0 {
                    e.mov64(d, simm: imm)                           /* mov dst, simm32 */
                } else {
                    loadConstant32(d, UInt32(bitPattern: imm), e)
                }
            case .mul:
                e.imul(size, d, d, imm: imm)                        /* imul dst, dst, imm */
            case .lsh, .rsh, .arsh:
                let count = UInt8(truncatingIfNeeded: imm) & (width == .w64 ? 63 : 31)
                if count == 0 {
                    if width == .w32 { e.mov(.dword, d, d) }        /* mov dst32, dst32: zero-extend */
                } else {
                    let kind: ShiftKind = operation == .lsh ? .shl : operation == .rsh ? .shr : .sar
                    e.shift(kind, size, d, count: count)            /* shl/shr/sar dst, imm8 */
                }
            case .div, .mod, .sdiv, .smod:
                divideByConstant(operation, width, d, imm, e)
            }
        }
    }

    /// dst = constant that fits 32 bits unsigned: `xor` for zero, else `mov r32, imm32`.
    func loadConstant32(_ d: GPR, _ value: UInt32, _ e: X86Encoder) {
        if value == 0 {
            e.arith(.xor, .dword, d, d)                             /* xor dst32, dst32 */
        } else {
            e.mov32(d, imm: value)                                  /* mov dst32, imm32 */
        }
    }

    /// dst = 64-bit constant in the shortest form.
    func loadConstant(_ d: GPR, _ value: UInt64, _ e: X86Encoder) {
        if value <= UInt64(UInt32.max) {
            loadConstant32(d, UInt32(value), e)
        } else if X86Encoder.isInt32(Int64(bitPattern: value)) {
            e.mov64(d, simm: Int32(truncatingIfNeeded: Int64(bitPattern: value))) /* mov dst, simm32 */
        } else {
            e.movabs(d, imm: value)                                 /* movabs dst, imm64 */
        }
    }

    /// Shifts by a BPF register: x86 shifts by `cl` only, and rcx is BPF r4.
    /// The count's register may be rcx, and so may dst; r11 keeps rcx's value.
    /// With BMI2 (`JITOptions.useBMI2`), one `shlx/shrx/sarx dst, dst, src`.
    func shiftByRegister(_ kind: ShiftKind, _ size: OperandSize, _ d: GPR, _ s: GPR, _ e: X86Encoder) {
        if options.useBMI2 {
            e.shiftx(kind, size, dst: d, src: d, count: s)          /* shlx/shrx/sarx dst, dst, src */
        } else if s == .rcx {
            e.shiftByCL(kind, size, d)                              /* shl/shr/sar dst, cl */
        } else if d == .rcx {
            e.mov(.qword, .r11, .rcx)                               /* mov r11, rcx: dst's value */
            e.mov(.qword, .rcx, s)                                  /* mov rcx, src: the count */
            e.shiftByCL(kind, size, .r11)                           /* shift r11, cl */
            e.mov(.qword, .rcx, .r11)                               /* mov rcx, r11: result into dst */
        } else {
            e.mov(.qword, .r11, .rcx)                               /* mov r11, rcx: save r4 */
            e.mov(.qword, .rcx, s)                                  /* mov rcx, src */
            e.shiftByCL(kind, size, d)                              /* shift dst, cl */
            e.mov(.qword, .rcx, .r11)                               /* mov rcx, r11: restore r4 */
        }
    }

    /// Division and modulo by r11 with RFC 9669 semantics, never trapping:
    /// x / 0 = 0, x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0.
    /// `div`/`idiv` use rdx:rax (BPF r3 and r0), kept in r9 and r10 unless
    /// dst is one of them.
    func divide(_ operation: ALUOperation, _ size: OperandSize, _ d: GPR, checkDivisor: Bool, _ e: X86Encoder) {
        let signed = operation == .sdiv || operation == .smod
        let remainder = operation == .mod || operation == .smod
        // Labels only where the divisor is checked (constant divisors need none).
        let zero = checkDivisor ? e.asm.makeLabel() : Label(id: -1)
        let minusOne = checkDivisor ? e.asm.makeLabel() : Label(id: -1)
        let done = checkDivisor ? e.asm.makeLabel() : Label(id: -1)
        if checkDivisor {
            e.test(size, .r11, .r11)                                /* test r11, r11 */
            e.j(.e, zero)                                           /* je divisor-zero */
            if signed {
                e.arith(.cmp, size, .r11, imm: -1)                  /* cmp r11, -1 */
                e.j(.e, minusOne)                                   /* je divisor-minus-one */
            }
        }
        if d != .rax { e.mov(.qword, .r10, .rax) }                  /* mov r10, rax: keep r0 */
        if d != .rdx { e.mov(.qword, .r9, .rdx) }                   /* mov r9, rdx: keep r3 */
        if d != .rax { e.mov(.qword, .rax, d) }                     /* mov rax, dst: dividend */
        if signed {
            e.signExtendAccumulator(size)                           /* cdq/cqo */
            e.idiv(size, .r11)                                      /* idiv r11 */
        } else {
            e.arith(.xor, .dword, .rdx, .rdx)                       /* xor edx, edx */
            e.div(size, .r11)                                       /* div r11 */
        }
        let result: GPR = remainder ? .rdx : .rax
        if d != result { e.mov(size, d, result) }                   /* mov dst, quotient/remainder */
        if d != .rdx { e.mov(.qword, .rdx, .r9) }                   /* mov rdx, r9 */
        if d != .rax { e.mov(.qword, .rax, .r10) }                  /* mov rax, r10 */
        guard checkDivisor else { return }
        e.jmp(done)                                                 /* jmp done */
        e.asm.bind(zero)
        if remainder {
            if size == .dword { e.mov(.dword, d, d) }               /* x % 0 = x (zero-extended) */
        } else {
            e.arith(.xor, .dword, d, d)                             /* x / 0 = 0 */
        }
        if signed {
            e.jmp(done)                                             /* jmp done */
            e.asm.bind(minusOne)
            if remainder {
                e.arith(.xor, .dword, d, d)                         /* x % -1 = 0 */
            } else {
                e.neg(size, d)                                      /* x / -1 = -x (INT_MIN stays) */
            }
        } else {
            e.asm.bind(minusOne)
        }
        e.asm.bind(done)
    }

    /// Division by a constant: the special divisors are decided now.
    func divideByConstant(_ operation: ALUOperation, _ width: Width, _ d: GPR, _ imm: Int32, _ e: X86Encoder) {
        let size = OperandSize(width)
        let signed = operation == .sdiv || operation == .smod
        let remainder = operation == .mod || operation == .smod
        if imm == 0 {
            if remainder {
                if width == .w32 { e.mov(.dword, d, d) }            /* x % 0 = x (zero-extended) */
            } else {
                e.arith(.xor, .dword, d, d)                         /* x / 0 = 0 */
            }
            return
        }
        if signed && imm == -1 {
            if remainder {
                e.arith(.xor, .dword, d, d)                         /* x % -1 = 0 */
            } else {
                e.neg(size, d)                                      /* x / -1 = -x */
            }
            return
        }
        if width == .w64 {
            e.mov64(.r11, simm: imm)                                /* mov r11, simm32: divisor */
        } else {
            e.mov32(.r11, imm: UInt32(bitPattern: imm))             /* mov r11d, imm32: divisor */
        }
        divide(operation, size, d, checkDivisor: false, e)
    }

    /// dst = sign-extended low `bits` of src.
    func lowerMovsx(_ width: Width, dst: Register, src: Register, bits: UInt8, _ e: X86Encoder) {
        let d = RegisterMap.native(dst), s = RegisterMap.native(src)
        let from: OperandSize = bits == 8 ? .byte : bits == 16 ? .word : .dword
        e.movsx(OperandSize(width), d, s, from: from)               /* movsx/movsxd dst, src */
    }

    /// Byte-order conversions; the host is little-endian.
    func lowerByteSwap(_ kind: ByteSwapKind, dst: Register, bits: UInt8, _ e: X86Encoder) {
        let d = RegisterMap.native(dst)
        if kind == .toLittleEndian {
            switch bits {
            case 16: e.movzx(d, d, from: .word)                     /* movzx dst32, dst16 */
            case 32: e.mov(.dword, d, d)                            /* mov dst32, dst32 */
            default: break                                          /* le64: nothing to do */
            }
            return
        }
        switch bits {
        case 16:
            e.shift(.ror, .word, d, count: 8)                       /* ror dst16, 8 */
            e.movzx(d, d, from: .word)                              /* movzx dst32, dst16 */
        case 32: e.bswap(.dword, d)                                 /* bswap dst32 */
        default: e.bswap(.qword, d)                                 /* bswap dst64 */
        }
    }
}
