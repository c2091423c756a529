import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

// MARK: - Arithmetic

extension MIPS32Backend {
    mutating func lowerALU(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: MIPS32Encoder) {
        let d = pair(dst)
        if dst == .ax, case .immediate(let imm) = operand, operation != .mov, operation != .lsh {
            // ax is t8:t9, where immediates are built: blinding's
            // `xor ax, key` builds its key in t6 instead.
            guard operation == .xor else {
                e.asm.code.poison("constant blinding writes ax only with mov, xor and lsh")
                return
            }
            e.load(.t6, UInt32(bitPattern: imm))                /* t6 = key */
            e.xor(d.lo, d.lo, .t6)                              /* xor t8, t8, t6 */
            if width == .w32 {
                e.move(d.hi, .zero)                             /* move t9, zero */
            } else if imm < 0 {
                e.nor(d.hi, d.hi, .zero)                        /* nor t9, t9, zero: ^ the key's sign */
            }
            return
        }
        if width == .w32 {
            lowerALU32(operation, d, operand, e)
            e.move(d.hi, .zero)                                 /* move hi, zero */
            return
        }
        switch operation {
        case .mov:
            let s = operandPair(operand, e)
            if d.lo != s.lo { e.move(d.lo, s.lo) }              /* move lo, src.lo */
            if d.hi != s.hi { e.move(d.hi, s.hi) }              /* move hi, src.hi */
        case .add:
            let s = operandPair(operand, e)
            e.addu(.t6, d.lo, s.lo)                             /* addu t6, lo, src.lo */
            e.sltu(.t7, .t6, s.lo)                              /* sltu t7, t6, src.lo: carry */
            e.move(d.lo, .t6)                                   /* move lo, t6 */
            e.addu(d.hi, d.hi, s.hi)                            /* addu hi, hi, src.hi */
            e.addu(d.hi, d.hi, .t7)                             /* addu hi, hi, t7 */
        case .sub:
            let s = operandPair(operand, e)
            e.sltu(.t7, d.lo, s.lo)                             /* sltu t7, lo, src.lo: borrow */
            e.subu(d.lo, d.lo, s.lo)                            /* subu lo, lo, src.lo */
            e.subu(d.hi, d.hi, s.hi)                            /* subu hi, hi, src.hi */
            e.subu(d.hi, d.hi, .t7)                             /* subu hi, hi, t7 */
        case .and, .or, .xor:
            let s = operandPair(operand, e)
            let op: (MIPS32Register, MIPS32Register, MIPS32Register) -> Void =
                operation == .and ? e.and : operation == .or ? e.or : e.xor
            op(d.lo, d.lo, s.lo)                                /* op lo, lo, src.lo */
            op(d.hi, d.hi, s.hi)                                /* op hi, hi, src.hi */
        case .mul:
            let s = operandPair(operand, e)
            e.mul(.t6, d.lo, s.hi)                              /* mul t6, lo, src.hi */
            e.mul(.t7, d.hi, s.lo)                              /* mul t7, hi, src.lo */
            e.addu(.t6, .t6, .t7)                               /* addu t6, t6, t7 */
            if options.release6 {
                e.muhu(.t7, d.lo, s.lo)                         /* muhu t7, lo, src.lo */
                e.mulu(d.lo, d.lo, s.lo)                        /* mulu lo, lo, src.lo */
            } else {
                e.multu(d.lo, s.lo)                             /* multu lo, src.lo */
                e.mflo(d.lo)                                    /* mflo lo */
                e.mfhi(.t7)                                     /* mfhi t7 */
            }
            e.addu(d.hi, .t6, .t7)                              /* addu hi, t6, t7 */
        case .lsh, .rsh, .arsh:
            switch operand {
            case .immediate(let imm): shiftImmediate64(operation, d, UInt32(bitPattern: imm) & 63, e)
            case .register(let register): shiftRegister64(operation, d, pair(register).lo, e)
            }
        case .div, .mod, .sdiv, .smod:
            lowerDivide64(operation, dst: dst, operand, e)
        }
    }

    func lowerALU32(_ operation: ALUOperation, _ d: MIPS32Pair, _ operand: Operand, _ e: MIPS32Encoder) {
        if case .immediate(let imm) = operand {
            switch operation {
            case .mov:
                e.load(d.lo, UInt32(bitPattern: imm))           /* lo = imm */
                return
            case .add where Int16(exactly: imm) != nil:
                e.addiu(d.lo, d.lo, Int16(imm))                 /* addiu lo, lo, imm */
                return
            case .sub where Int16(exactly: -Int64(imm)) != nil:
                e.addiu(d.lo, d.lo, Int16(-Int64(imm)))         /* addiu lo, lo, -imm */
                return
            case .and where (0...0xffff).contains(imm):
                e.andi(d.lo, d.lo, UInt16(imm))                 /* andi lo, lo, imm */
                return
            case .or where (0...0xffff).contains(imm):
                e.ori(d.lo, d.lo, UInt16(imm))                  /* ori lo, lo, imm */
                return
            case .xor where (0...0xffff).contains(imm):
                e.xori(d.lo, d.lo, UInt16(imm))                 /* xori lo, lo, imm */
                return
            case .lsh:
                e.sll(d.lo, d.lo, UInt32(bitPattern: imm) & 31) /* sll lo, lo, n */
                return
            case .rsh:
                e.srl(d.lo, d.lo, UInt32(bitPattern: imm) & 31) /* srl lo, lo, n */
                return
            case .arsh:
                e.sra(d.lo, d.lo, UInt32(bitPattern: imm) & 31) /* sra lo, lo, n */
                return
            default:
                break
            }
        }
        let s = operandLow(operand, e)
        switch operation {
        case .mov: if d.lo != s { e.move(d.lo, s) }             /* move lo, src */
        case .add: e.addu(d.lo, d.lo, s)                        /* addu lo, lo, src */
        case .sub: e.subu(d.lo, d.lo, s)                        /* subu lo, lo, src */
        case .and: e.and(d.lo, d.lo, s)                         /* and lo, lo, src */
        case .or: e.or(d.lo, d.lo, s)                           /* or lo, lo, src */
        case .xor: e.xor(d.lo, d.lo, s)                         /* xor lo, lo, src */
        case .mul: e.mul(d.lo, d.lo, s)                         /* mul lo, lo, src */
        case .lsh: e.sllv(d.lo, d.lo, s)                        /* sllv lo, lo, src (amount mod 32) */
        case .rsh: e.srlv(d.lo, d.lo, s)                        /* srlv lo, lo, src */
        case .arsh: e.srav(d.lo, d.lo, s)                       /* srav lo, lo, src */
        case .div, .mod, .sdiv, .smod: divide32(operation, d.lo, s, e)
        }
    }

    /// 32-bit division in DIV/DIVU, whose result the architecture leaves
    /// unpredictable for a zero divisor and for INT_MIN / -1: both are
    /// branched around to BPF's results (x / 0 = 0, x % 0 = x; the signed
    /// quotient by -1 is the negation, the remainder 0).
    func divide32(_ operation: ALUOperation, _ d: MIPS32Register, _ s: MIPS32Register, _ e: MIPS32Encoder) {
        let quotient = operation == .div || operation == .sdiv
        let signed = operation == .sdiv || operation == .smod
        let zero = e.asm.makeLabel(), done = e.asm.makeLabel()
        e.branch(zero, eq: true, s, .zero)                      /* beq src, zero, zero */
        if signed {
            let general = e.asm.makeLabel()
            e.addiu(.t7, .zero, -1)                             /* t7 = -1 */
            e.branch(general, eq: false, s, .t7)                /* bne src, t7, general */
            if quotient { e.subu(d, .zero, d) } else { e.move(d, .zero) } /* -lo or 0 */
            e.b(done)                                           /* b done */
            e.asm.bind(general)
        }
        if options.release6 {
            switch (signed, quotient) {
            case (true, true): e.div(d, d, s)                   /* div lo, lo, src */
            case (true, false): e.mod(d, d, s)                  /* mod lo, lo, src */
            case (false, true): e.divu(d, d, s)                 /* divu lo, lo, src */
            case (false, false): e.modu(d, d, s)                /* modu lo, lo, src */
            }
        } else {
            if signed { e.div(d, s) } else { e.divu(d, s) }     /* div/divu zero, lo, src */
            if quotient { e.mflo(d) } else { e.mfhi(d) }        /* mflo/mfhi lo */
        }
        e.b(done)                                               /* b done */
        e.asm.bind(zero)
        if quotient { e.move(d, .zero) }                        /* move lo, zero */
        e.asm.bind(done)
    }

    /// 64-bit shifts by a constant, across the pair.
    func shiftImmediate64(_ operation: ALUOperation, _ d: MIPS32Pair, _ n: UInt32, _ e: MIPS32Encoder) {
        guard n != 0 else { return }
        switch operation {
        case .lsh:
            if n < 32 {
                e.srl(.t6, d.lo, 32 - n)                        /* srl t6, lo, 32-n */
                e.sll(d.hi, d.hi, n)                            /* sll hi, hi, n */
                e.or(d.hi, d.hi, .t6)                           /* or hi, hi, t6 */
                e.sll(d.lo, d.lo, n)                            /* sll lo, lo, n */
            } else {
                e.sll(d.hi, d.lo, n - 32)                       /* sll hi, lo, n-32 */
                e.move(d.lo, .zero)                             /* move lo, zero */
            }
        default:
            if n < 32 {
                e.sll(.t6, d.hi, 32 - n)                        /* sll t6, hi, 32-n */
                e.srl(d.lo, d.lo, n)                            /* srl lo, lo, n */
                e.or(d.lo, d.lo, .t6)                           /* or lo, lo, t6 */
                if operation == .rsh { e.srl(d.hi, d.hi, n) } else { e.sra(d.hi, d.hi, n) } /* srl/sra hi, hi, n */
            } else {
                if operation == .rsh { e.srl(d.lo, d.hi, n - 32) } else { e.sra(d.lo, d.hi, n - 32) } /* lo = hi >> n-32 */
                if operation == .rsh { e.move(d.hi, .zero) } else { e.sra(d.hi, d.hi, 31) } /* hi = 0 or sign */
            }
        }
    }

    /// 64-bit shifts by a register, amount n = src & 63. Below 32 the word
    /// crossing over is `(w >> 1) >> (31 - n)` (or `<<`), which is 0 for
    /// n = 0 where a single shift by 32 - n would wrap to a shift by 0.
    func shiftRegister64(_ operation: ALUOperation, _ d: MIPS32Pair, _ amount: MIPS32Register, _ e: MIPS32Encoder) {
        let big = e.asm.makeLabel(), done = e.asm.makeLabel()
        e.andi(.t6, amount, 63)                                 /* andi t6, src, 63 */
        e.andi(.t7, .t6, 32)                                    /* andi t7, t6, 32 */
        e.branch(big, eq: false, .t7, .zero)                    /* bne t7, zero, big */
        e.nor(.t8, .zero, .t6)                                  /* nor t8, zero, t6: 31 - n (mod 32) */
        switch operation {
        case .lsh:
            e.srl(.t7, d.lo, 1)                                 /* srl t7, lo, 1 */
            e.srlv(.t7, .t7, .t8)                               /* srlv t7, t7, t8 */
            e.sllv(d.hi, d.hi, .t6)                             /* sllv hi, hi, t6 */
            e.or(d.hi, d.hi, .t7)                               /* or hi, hi, t7 */
            e.sllv(d.lo, d.lo, .t6)                             /* sllv lo, lo, t6 */
            e.b(done)
            e.asm.bind(big)
            e.sllv(d.hi, d.lo, .t6)                             /* sllv hi, lo, t6 (n - 32) */
            e.move(d.lo, .zero)                                 /* move lo, zero */
        default:
            e.sll(.t7, d.hi, 1)                                 /* sll t7, hi, 1 */
            e.sllv(.t7, .t7, .t8)                               /* sllv t7, t7, t8 */
            e.srlv(d.lo, d.lo, .t6)                             /* srlv lo, lo, t6 */
            e.or(d.lo, d.lo, .t7)                               /* or lo, lo, t7 */
            if operation == .rsh { e.srlv(d.hi, d.hi, .t6) } else { e.srav(d.hi, d.hi, .t6) } /* srlv/srav hi, hi, t6 */
            e.b(done)
            e.asm.bind(big)
            if operation == .rsh { e.srlv(d.lo, d.hi, .t6) } else { e.srav(d.lo, d.hi, .t6) } /* lo = hi >> n-32 */
            if operation == .rsh { e.move(d.hi, .zero) } else { e.sra(d.hi, d.hi, 31) } /* hi = 0 or sign */
        }
        e.asm.bind(done)
    }

    /// 64-bit division and remainder through a host routine: r0–r5 saved,
    /// dividend in a0:a1 and divisor in a2:a3 (O32 memory order), result
    /// from v0:v1, r0–r5 restored, result written.
    mutating func lowerDivide64(_ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: MIPS32Encoder) {
        saveCallerSaved(e)
        let arg1 = pair(.r1), arg2 = pair(.r2)
        switch operand {
        case .register(let register): readSaved(register, into: arg2, e)
        case .immediate(let imm):
            e.load(arg2.lo, UInt32(bitPattern: imm))            /* divisor low = imm */
            e.load(arg2.hi, imm < 0 ? 0xffff_ffff : 0)          /* divisor high = sign */
        }
        readSaved(dst, into: arg1, e)
        callHost(targets.routines[MIPS32Routine(operation)] ?? 0, e) /* jalr routine */
        let r0 = pair(.r0)
        e.move(.t6, r0.lo)                                      /* move t6, result.lo */
        e.move(.t7, r0.hi)                                      /* move t7, result.hi */
        restoreCallerSaved(e)
        let d = pair(dst)
        e.move(d.lo, .t6)                                       /* move lo, t6 */
        e.move(d.hi, .t7)                                       /* move hi, t7 */
    }

    mutating func lowerByteSwap(_ kind: ByteSwapKind, dst: Register, bits: UInt8, _ e: MIPS32Encoder) {
        let d = pair(dst)
        // `le`/`be` convert between host order and the named order: a swap
        // exactly when the named order is not the target's.
        let swaps = kind == .swap || (kind == .toLittleEndian) == bigEndian
        switch (swaps, bits) {
        case (false, 16):
            e.andi(d.lo, d.lo, 0xffff)                          /* andi lo, lo, 0xffff */
            e.move(d.hi, .zero)                                 /* move hi, zero */
        case (false, 32):
            e.move(d.hi, .zero)                                 /* move hi, zero */
        case (false, _):
            return
        case (true, 16):
            e.wsbh(d.lo, d.lo)                                  /* wsbh lo, lo */
            e.andi(d.lo, d.lo, 0xffff)                          /* andi lo, lo, 0xffff */
            e.move(d.hi, .zero)                                 /* move hi, zero */
        case (true, 32):
            e.wsbh(d.lo, d.lo)                                  /* wsbh lo, lo */
            e.rotr(d.lo, d.lo, 16)                              /* rotr lo, lo, 16 */
            e.move(d.hi, .zero)                                 /* move hi, zero */
        default:
            e.wsbh(.t6, d.lo)                                   /* wsbh t6, lo */
            e.rotr(.t6, .t6, 16)                                /* rotr t6, t6, 16 */
            e.wsbh(d.lo, d.hi)                                  /* wsbh lo, hi */
            e.rotr(d.lo, d.lo, 16)                              /* rotr lo, lo, 16 */
            e.move(d.hi, .t6)                                   /* move hi, t6 */
        }
    }
}

// MARK: - Branches

extension MIPS32Backend {
    func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand, to target: Label,
                     _ e: MIPS32Encoder) {
        let d = pair(dst)
        if width == .w32 {
            let a = d.lo, b = operandLow(operand, e)
            switch condition {
            case .eq: e.branch(target, eq: true, a, b)          /* beq a, b, target */
            case .ne: e.branch(target, eq: false, a, b)         /* bne a, b, target */
            case .set:
                e.and(.t6, a, b)                                /* and t6, a, b */
                e.branch(target, eq: false, .t6, .zero)         /* bne t6, zero, target */
            default:
                let signed = [.sgt, .sge, .slt, .sle].contains(condition)
                // a > b is b < a; a >= b is !(a < b); a <= b is !(b < a).
                let swapped = [.gt, .sgt, .le, .sle].contains(condition)
                let (x, y) = swapped ? (b, a) : (a, b)
                if signed { e.slt(.t6, x, y) } else { e.sltu(.t6, x, y) } /* slt/sltu t6, x, y */
                let taken = [.gt, .sgt, .lt, .slt].contains(condition)
                e.branch(target, eq: !taken, .t6, .zero)        /* bne/beq t6, zero, target */
            }
            return
        }
        let s = operandPair(operand, e)
        switch condition {
        case .eq, .ne, .set:
            if condition == .set {
                e.and(.t6, d.lo, s.lo)                          /* and t6, lo, src.lo */
                e.and(.t7, d.hi, s.hi)                          /* and t7, hi, src.hi */
            } else {
                e.xor(.t6, d.lo, s.lo)                          /* xor t6, lo, src.lo */
                e.xor(.t7, d.hi, s.hi)                          /* xor t7, hi, src.hi */
            }
            e.or(.t6, .t6, .t7)                                 /* or t6, t6, t7 */
            e.branch(target, eq: condition == .eq, .t6, .zero)  /* beq/bne t6, zero, target */
        default:
            let signed = [.sgt, .sge, .slt, .sle].contains(condition)
            let swapped = [.gt, .sgt, .le, .sle].contains(condition)
            let (x, y) = swapped ? (s, d) : (d, s)
            // t6 = x < y as 64-bit values: the high words decide unless equal.
            e.sltu(.t6, x.lo, y.lo)                             /* sltu t6, x.lo, y.lo */
            if signed { e.slt(.at, x.hi, y.hi) } else { e.sltu(.at, x.hi, y.hi) } /* slt/sltu at, x.hi, y.hi */
            e.xor(.t7, x.hi, y.hi)                              /* xor t7, x.hi, y.hi */
            if options.release6 {
                e.selnez(.at, .at, .t7)                         /* selnez at, at, t7 */
                e.seleqz(.t6, .t6, .t7)                         /* seleqz t6, t6, t7 */
                e.or(.t6, .t6, .at)                             /* or t6, t6, at */
            } else {
                e.movn(.t6, .at, .t7)                           /* movn t6, at, t7 */
            }
            let taken = [.gt, .sgt, .lt, .slt].contains(condition)
            e.branch(target, eq: !taken, .t6, .zero)            /* bne/beq t6, zero, target */
        }
    }
}

// MARK: - Calls

extension MIPS32Backend {
    /// A helper call with its arguments placed by prototype (`O32`): stack
    /// words first (from their BPF registers), then a0–a3 from copies of r1
    /// and r2 taken in t6–t9, so no argument overwrites one still to be
    /// read. A one-word result comes back in v0 and is zero-extended; a
    /// 64-bit one in v0:v1 in memory order, which is r0's pair already.
    mutating func lowerHelperCall(_ id: Int32, _ e: MIPS32Encoder) {
        guard let helper = helpers.registry[id], let target = targets.helpers[id] else {
            e.asm.code.poison("helper \(id) has no call target")
            return
        }
        let locations = O32.locations(for: helper.prototype.arguments)
        func source(_ index: Int) -> MIPS32Pair { pair(Register(rawValue: UInt8(index + 1))!) }
        for (index, location) in locations.enumerated() {
            guard case .stack(let offset, let bytes) = location else { continue }
            let p = source(index)
            if bytes == 8 {
                let (first, second) = p.memoryOrder(bigEndian: bigEndian)
                e.sw(first, Int16(offset), .sp)                 /* sw first, offset(sp) */
                e.sw(second, Int16(offset + 4), .sp)            /* sw second, offset+4(sp) */
            } else {
                e.sw(p.lo, Int16(offset), .sp)                  /* sw lo, offset(sp) */
            }
        }
        let arguments: [MIPS32Register] = [.a0, .a1, .a2, .a3]
        let copies: [MIPS32Register: MIPS32Register] = [.a0: .t6, .a1: .t7, .a2: .t8, .a3: .t9]
        var moves: [(to: MIPS32Register, from: MIPS32Register)] = []
        for (index, location) in locations.enumerated() {
            let p = source(index)
            switch location {
            case .register(let n): moves.append((arguments[n], p.lo))
            case .pair(let n):
                let (first, second) = p.memoryOrder(bigEndian: bigEndian)
                moves.append((arguments[n], first))
                moves.append((arguments[n + 1], second))
            case .stack: break
            }
        }
        moves.removeAll { $0.to == $0.from }
        if moves.contains(where: { copies[$0.from] != nil }) {
            for register in arguments where moves.contains(where: { $0.from == register }) {
                e.move(copies[register]!, register)             /* move t6–t9, a0–a3 */
            }
        }
        for move in moves { e.move(move.to, copies[move.from] ?? move.from) } /* move aN, source */
        callHost(target, e)                                     /* jalr helper */
        let r0 = pair(.r0)
        if O32.isWord(helper.prototype.result) {
            if r0.lo != .v0 { e.move(r0.lo, .v0) }              /* move lo, v0 */
            e.move(r0.hi, .zero)                                /* move hi, zero */
        }
    }

    /// `callx`: the helper number is compared with every helper the machine
    /// has, and the matching call made; another number stops the run.
    mutating func lowerDynamicCall(_ register: Register, pc: Int, _ e: MIPS32Encoder) {
        let value = pair(register)
        e.move(.t6, value.lo)                                   /* move t6, lo */
        e.move(.t7, value.hi)                                   /* move t7, hi */
        let missing = e.asm.makeLabel(), done = e.asm.makeLabel()
        e.branch(missing, eq: false, .t7, .zero)                /* bne t7, zero, missing */
        let ids = targets.helpers.keys.sorted()
        var labels: [Label] = []
        for id in ids {
            let label = e.asm.makeLabel()
            labels.append(label)
            e.load(.t8, UInt32(bitPattern: id))                 /* t8 = id */
            e.branch(label, eq: true, .t6, .t8)                 /* beq t6, t8, call */
        }
        e.asm.bind(missing)
        e.lw(.t9, Int16(MIPS32RegisterMap.contextWord), MIPS32RegisterMap.runWords) /* lw t9, 0(gp) */
        storeHostWord(.t6, at: Int(layout.dynamicHelper), context: .t9, e)   /* dynamicHelper low */
        storeHostWord(.t7, at: Int(layout.dynamicHelper) + 4, context: .t9, e) /* dynamicHelper high */
        raise(MIPS32Status.dynamicHelperMissing, pc: pc, e)
        for (id, label) in zip(ids, labels) {
            e.asm.bind(label)
            lowerHelperCall(id, e)
            e.b(done)                                           /* b done */
        }
        e.asm.bind(done)
    }

    /// The runaway guard, charged on every backward jump (with the number of
    /// slots it jumps back over, `JITProofs.guardCharge`) and on every local
    /// call (with 1), as on the other JITs, so every JIT stops a runaway
    /// program after the same amount of work. The budget is the run
    /// context's 64-bit word (host memory in the host's byte order, which
    /// tail calls share):
    ///
    /// ```
    ///     lw   at, 0(gp)                  ; the run context
    ///     lw   t6, budget(at)             ; low word  (byte-swapped on mips32be)
    ///     lw   t7, budget+4(at)           ; high word
    ///     li   at, charge
    ///     subu at, t6, at                 ; low - charge
    ///     sltu t6, t6, at                 ; borrow
    ///     subu t7, t7, t6
    ///     move t6, at
    ///     lw   at, 0(gp)
    ///     sw   t6, budget(at); sw t7, budget+4(at)
    ///     slt  t6, t7, zero               ; negative: stop with instructionLimit at pc
    /// ```
    ///
    /// It uses only t6, t7 and at, so ax (t8:t9, read by the blinded jump
    /// that follows) survives. Nothing when the proofs say every run ends
    /// within the budget.
    mutating func chargeGuard(_ charge: Int, pc: Int, _ e: MIPS32Encoder) {
        if proofs.unguarded { return }
        statistics.guardCharges += 1
        let words = MIPS32RegisterMap.runWords, context = Int16(MIPS32RegisterMap.contextWord)
        let budget = Int(layout.budget)
        func swap(_ register: MIPS32Register) {
            guard bigEndian else { return }
            e.wsbh(register, register)                          /* wsbh reg, reg */
            e.rotr(register, register, 16)                      /* rotr reg, reg, 16 */
        }
        e.lw(.at, context, words)                               /* lw at, 0(gp) */
        loadHostWord(.t6, at: budget, context: .at, e)          /* t6 = budget low */
        loadHostWord(.t7, at: budget + 4, context: .at, e)      /* t7 = budget high */
        e.load(.at, UInt32(charge))                             /* at = charge */
        e.subu(.at, .t6, .at)                                   /* subu at, t6, at */
        e.sltu(.t6, .t6, .at)                                   /* sltu t6, t6, at: borrow */
        e.subu(.t7, .t7, .t6)                                   /* subu t7, t7, t6 */
        e.move(.t6, .at)                                        /* move t6, at */
        e.lw(.at, context, words)                               /* lw at, 0(gp) */
        swap(.t6)
        e.sw(.t6, Int16(budget), .at)                           /* sw t6, budget(at) */
        e.slt(.t6, .t7, .zero)                                  /* slt t6, t7, zero: exhausted */
        swap(.t7)
        e.sw(.t7, Int16(budget + 4), .at)                       /* sw t7, budget+4(at) */
        let ok = e.asm.makeLabel()
        e.branch(ok, eq: true, .t6, .zero)                      /* beq t6, zero, ok */
        raise(JITStatus.instructionLimit, pc: pc, e)
        e.asm.bind(ok)
    }

    /// A local call: the guard, the depth check, fp one frame down, `bal`, and back.
    mutating func lowerLocalCall(to target: Int, pc: Int, _ e: MIPS32Encoder) {
        chargeGuard(1, pc: pc, e)
        let words = MIPS32RegisterMap.runWords, depth = Int16(MIPS32RegisterMap.depthWord)
        let frame = Int16(ExecutionLimits.stackSizePerFrame)
        let ok = e.asm.makeLabel()
        e.lw(.t6, depth, words)                                 /* lw t6, 8(gp) */
        e.addiu(.t6, .t6, 1)                                    /* addiu t6, t6, 1 */
        e.sltiu(.t7, .t6, Int16(ExecutionLimits.maxCallFrames)) /* sltiu t7, t6, frames */
        e.branch(ok, eq: false, .t7, .zero)                     /* bne t7, zero, ok */
        raise(JITStatus.callDepth, pc: pc, e)
        e.asm.bind(ok)
        e.sw(.t6, depth, words)                                 /* sw t6, 8(gp) */
        e.addiu(.fp, .fp, -frame)                               /* addiu fp, fp, -512 */
        // Function 0's label is the run's entry: a call lands after it.
        let index = functionIndex[target] ?? 0
        e.bal(index == 0 ? entryInnerLabel : e.asm.function(index)) /* bal function */
        e.addiu(.fp, .fp, frame)                                /* addiu fp, fp, 512 */
        e.lw(.t6, depth, words)                                 /* lw t6, 8(gp) */
        e.addiu(.t6, .t6, -1)                                   /* addiu t6, t6, -1 */
        e.sw(.t6, depth, words)                                 /* sw t6, 8(gp) */
    }
}

// MARK: - Memory

extension MIPS32Backend {
    /// The base register and displacement of `base + offset`, after the slow
    /// bounds check when the access keeps one: `check(context, address,
    /// info)` as a runtime call with r0–r5 saved around it; nonzero means the
    /// host recorded the error and the run ends. The displacement leaves
    /// room for the second word of a 64-bit access; otherwise the address
    /// is formed in t7.
    mutating func address(base: Register, offset: Int16, size: Int, write: Bool, pc: Int, _ e: MIPS32Encoder,
                          atomic: Bool = false) -> (MIPS32Register, Int16) {
        let b = pair(base).lo
        if checked.contains(pc) {
            // A blinded store's value is in ax (t8:t9), which the call
            // destroys: it waits in outgoing words the callee does not own.
            if preservesAuxiliary {
                e.sw(.t8, Int16(Self.auxiliaryOffset), .sp)     /* sw t8, 24(sp) */
                e.sw(.t9, Int16(Self.auxiliaryOffset + 4), .sp) /* sw t9, 28(sp) */
            }
            e.addConstant(.t7, b, Int32(offset), scratch: .t8)  /* t7 = base + offset */
            saveCallerSaved(e)
            let arg1 = pair(.r1), arg2 = pair(.r2)
            e.lw(arg1.lo, Int16(MIPS32RegisterMap.contextWord), MIPS32RegisterMap.runWords) /* context */
            e.move(arg1.hi, .zero)
            e.move(arg2.lo, .t7)                                /* address */
            e.move(arg2.hi, .zero)
            e.load(.t8, JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic)) /* t8 = info */
            e.sw(.t8, bigEndian ? 20 : 16, .sp)                 /* info, low word of [sp+16] */
            e.sw(.zero, bigEndian ? 16 : 20, .sp)               /* high word */
            callHost(targets.checkAccess, e)                    /* jalr check */
            e.move(.t6, pair(.r0).lo)                           /* move t6, result */
            restoreCallerSaved(e)
            e.branch(errorExitLabel, eq: false, .t6, .zero)     /* bne t6, zero, exit */
            if preservesAuxiliary {
                e.lw(.t8, Int16(Self.auxiliaryOffset), .sp)     /* lw t8, 24(sp) */
                e.lw(.t9, Int16(Self.auxiliaryOffset + 4), .sp) /* lw t9, 28(sp) */
            }
            statistics.checkedAccesses += 1
            e.addConstant(.t7, b, Int32(offset), scratch: .t8)  /* t7 = base + offset */
            return (.t7, 0)
        }
        if atomic || offset > Int16.max - 8 {
            e.addConstant(.t7, b, Int32(offset), scratch: .t8)  /* t7 = base + offset */
            return (.t7, 0)
        }
        return (b, offset)
    }

    /// Whether an access is known to be naturally aligned: BPF r10 plus a
    /// multiple of the size (frames are 8-byte aligned). Others may not be
    /// (BPF allows unaligned packet and map accesses, MIPS32 Release 2 traps
    /// on them), so they use LWL/LWR and SWL/SWR for words and single bytes
    /// for halfwords.
    func isAligned(base: Register, offset: Int16, size: Int) -> Bool {
        options.release6 || (base == .r10 && Int(offset) % size == 0)
    }

    mutating func lowerLoad(_ size: AccessSize, signed: Bool, dst: Register, base: Register, offset: Int16, pc: Int,
                            _ e: MIPS32Encoder) {
        let aligned = isAligned(base: base, offset: offset, size: size.bytes)
        let (b, o) = address(base: base, offset: offset, size: size.bytes, write: false, pc: pc, e)
        let d = pair(dst)
        switch size {
        case .byte: if signed { e.lb(d.lo, o, b) } else { e.lbu(d.lo, o, b) } /* lb/lbu lo, o(b) */
        case .half:
            if aligned {
                if signed { e.lh(d.lo, o, b) } else { e.lhu(d.lo, o, b) } /* lh/lhu lo, o(b) */
            } else {
                let (high, low) = bigEndian ? (o, o + 1) : (o + 1, o)
                if signed { e.lb(.t6, high, b) } else { e.lbu(.t6, high, b) } /* lb/lbu t6, high byte */
                e.lbu(.t8, low, b)                              /* lbu t8, low byte */
                e.sll(.t6, .t6, 8)                              /* sll t6, t6, 8 */
                e.or(d.lo, .t6, .t8)                            /* or lo, t6, t8 */
            }
        case .word:
            if aligned {
                e.lw(d.lo, o, b)                                /* lw lo, o(b) */
            } else if d.lo == b {
                e.loadWordUnaligned(.t6, o, b)                  /* lwr/lwl t6, o(b) */
                e.move(d.lo, .t6)                               /* move lo, t6 */
            } else {
                e.loadWordUnaligned(d.lo, o, b)                 /* lwr/lwl lo, o(b) */
            }
        case .double:
            let (first, second) = d.memoryOrder(bigEndian: bigEndian)
            // Load the word whose register is not the base first.
            let order = first == b ? [(second, o + 4), (first, o)] : [(first, o), (second, o + 4)]
            for (register, displacement) in order {
                if aligned {
                    e.lw(register, displacement, b)             /* lw reg, o(b) */
                } else if register == b {
                    e.loadWordUnaligned(.t6, displacement, b)   /* lwr/lwl t6, o(b) */
                    e.move(register, .t6)                       /* move reg, t6 */
                } else {
                    e.loadWordUnaligned(register, displacement, b) /* lwr/lwl reg, o(b) */
                }
            }
        }
        if size != .double {
            if signed { e.sra(d.hi, d.lo, 31) } else { e.move(d.hi, .zero) } /* hi = sign or 0 */
        }
    }

    func lowerStore(_ size: AccessSize, _ s: MIPS32Pair, base b: MIPS32Register, offset o: Int16, aligned: Bool, _ e: MIPS32Encoder) {
        switch size {
        case .byte: e.sb(s.lo, o, b)                            /* sb lo, o(b) */
        case .half:
            if aligned {
                e.sh(s.lo, o, b)                                /* sh lo, o(b) */
            } else {
                let (high, low) = bigEndian ? (o, o + 1) : (o + 1, o)
                e.srl(.t6, s.lo, 8)                             /* srl t6, lo, 8 */
                e.sb(s.lo, low, b)                              /* sb lo, low byte */
                e.sb(.t6, high, b)                              /* sb t6, high byte */
            }
        case .word:
            if aligned { e.sw(s.lo, o, b) } else { e.storeWordUnaligned(s.lo, o, b) } /* sw or swr/swl lo, o(b) */
        case .double:
            let (first, second) = s.memoryOrder(bigEndian: bigEndian)
            if aligned {
                e.sw(first, o, b)                               /* sw first, o(b) */
                e.sw(second, o + 4, b)                          /* sw second, o+4(b) */
            } else {
                e.storeWordUnaligned(first, o, b)               /* swr/swl first, o(b) */
                e.storeWordUnaligned(second, o + 4, b)          /* swr/swl second, o+4(b) */
            }
        }
    }

    /// 32-bit atomics as LL/SC loops between two `sync`s; 64-bit ones
    /// through a host routine `(address, operand, expected) -> old`.
    mutating func lowerAtomic(_ width: Width, _ operation: AtomicOperation, dst: Register, offset: Int16, src: Register, pc: Int,
                              _ e: MIPS32Encoder) {
        let (address, _) = self.address(base: dst, offset: offset, size: width == .w64 ? 8 : 4, write: true, pc: pc, e,
                                        atomic: true)
        let s = pair(src), r0 = pair(.r0)
        var fetches = false
        switch operation {
        case .add(let fetch), .or(let fetch), .and(let fetch), .xor(let fetch): fetches = fetch
        case .xchg, .cmpxchg: fetches = true
        }
        if width == .w32 {
            let loop = e.asm.makeLabel(), done = e.asm.makeLabel()
            e.sync()                                            /* sync */
            e.asm.bind(loop)
            e.ll(.t6, 0, address)                               /* ll t6, 0(t7) */
            switch operation {
            case .cmpxchg:
                e.branch(done, eq: false, .t6, r0.lo)           /* bne t6, r0.lo, done */
                e.move(.t8, s.lo)                               /* move t8, src */
            case .xchg:
                e.move(.t8, s.lo)                               /* move t8, src */
            case .add: e.addu(.t8, .t6, s.lo)                   /* addu t8, t6, src */
            case .or: e.or(.t8, .t6, s.lo)                      /* or t8, t6, src */
            case .and: e.and(.t8, .t6, s.lo)                    /* and t8, t6, src */
            case .xor: e.xor(.t8, .t6, s.lo)                    /* xor t8, t6, src */
            }
            e.sc(.t8, 0, address)                               /* sc t8, 0(t7) */
            e.branch(loop, eq: true, .t8, .zero)                /* beq t8, zero, loop */
            e.asm.bind(done)
            e.sync()                                            /* sync */
            if operation == .cmpxchg {
                e.move(r0.lo, .t6)                              /* r0 = old */
                e.move(r0.hi, .zero)
            } else if fetches {
                e.move(s.lo, .t6)                               /* src = old */
                e.move(s.hi, .zero)
            }
            return
        }
        saveCallerSaved(e)
        let arg1 = pair(.r1), arg2 = pair(.r2)
        e.move(arg1.lo, address)                                /* address */
        e.move(arg1.hi, .zero)
        readSaved(src, into: arg2, e)                           /* operand */
        readSaved(.r0, into: MIPS32Pair(.t6, .t8), e)           /* expected */
        let (first, second) = MIPS32Pair(.t6, .t8).memoryOrder(bigEndian: bigEndian)
        e.sw(first, 16, .sp)                                    /* [sp+16] = expected */
        e.sw(second, 20, .sp)
        callHost(targets.routines[MIPS32Routine(operation)] ?? 0, e) /* jalr routine */
        e.move(.t6, r0.lo)                                      /* move t6, old.lo */
        e.move(.t7, r0.hi)                                      /* move t7, old.hi */
        restoreCallerSaved(e)
        let out = operation == .cmpxchg ? r0 : s
        if fetches {
            e.move(out.lo, .t6)
            e.move(out.hi, .t7)
        }
    }
}
