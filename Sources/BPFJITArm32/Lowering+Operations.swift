import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

// MARK: - Arithmetic

extension Arm32Backend {
    static func dataOp(_ operation: ALUOperation) -> Arm32DataOp? {
        switch operation {
        case .add: .add
        case .sub: .sub
        case .and: .and
        case .or: .orr
        case .xor: .eor
        default: nil
        }
    }

    static func shift(_ operation: ALUOperation) -> Arm32Shift? {
        switch operation {
        case .lsh: .lsl
        case .rsh: .lsr
        case .arsh: .asr
        default: nil
        }
    }

    mutating func lowerALU(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: Arm32Encoder) {
        switch operation {
        case .mov:
            lowerMove(width, dst: dst, operand, e)
            return
        case .div, .mod, .sdiv, .smod:
            lowerDivide(width, operation, dst: dst, operand, e)
            return
        default:
            break
        }
        let d = readDestination(dst, e)
        if width == .w32 {
            if let op = Self.dataOp(operation) {
                e.dp(op, d.lo, d.lo, operandLow(operand, e))   /* op lo, lo, src */
            } else if operation == .mul {
                e.mul(d.lo, d.lo, operandLowRegister(operand, e)) /* mul lo, lo, src */
            } else if let type = Self.shift(operation) {
                switch operand {
                case .immediate(let imm):
                    let n = UInt32(bitPattern: imm) & 31
                    if n != 0 { e.mov(d.lo, .register(d.lo, type, n)) } /* shift lo, lo, #n */
                case .register:
                    let amount = operandLowRegister(operand, e)
                    e.dp(.and, .r12, amount, .immediate(Arm32Immediate(31)!)) /* and r12, src, #31 */
                    e.mov(d.lo, .shiftedBy(d.lo, type, .r12))   /* shift lo, lo, r12 */
                }
            }
            e.load(d.hi, 0)                                     /* mov hi, #0 */
            write(dst, d, e)
            return
        }
        switch operation {
        case .add, .sub:
            let s = operandPair(operand, e)
            e.dp(operation == .add ? .add : .sub, d.lo, d.lo, .register(s.lo), s: true) /* adds/subs lo, lo, src.lo */
            e.dp(operation == .add ? .adc : .sbc, d.hi, d.hi, .register(s.hi))          /* adc/sbc hi, hi, src.hi */
        case .and, .or, .xor:
            let s = operandPair(operand, e)
            let op = Self.dataOp(operation)!
            e.dp(op, d.lo, d.lo, .register(s.lo))              /* op lo, lo, src.lo */
            e.dp(op, d.hi, d.hi, .register(s.hi))              /* op hi, hi, src.hi */
        case .mul:
            let s = operandPair(operand, e)
            e.umull(.r12, .lr, d.lo, s.lo)                      /* umull r12, lr, lo, src.lo */
            e.mla(.lr, d.lo, s.hi, .lr)                         /* mla lr, lo, src.hi, lr */
            e.mla(.lr, d.hi, s.lo, .lr)                         /* mla lr, hi, src.lo, lr */
            e.mov(d.lo, .r12)                                   /* mov lo, r12 */
            e.mov(d.hi, .lr)                                    /* mov hi, lr */
        case .lsh, .rsh, .arsh:
            switch operand {
            case .immediate(let imm): shiftImmediate64(operation, d, UInt32(bitPattern: imm) & 63, e)
            case .register: shiftRegister64(operation, d, operandLowRegister(operand, e), e)
            }
        default:
            break
        }
        write(dst, d, e)
    }

    mutating func lowerMove(_ width: Width, dst: Register, _ operand: Operand, _ e: Arm32Encoder) {
        let d = destination(dst)
        switch operand {
        case .immediate(let imm):
            e.load(d.lo, UInt32(bitPattern: imm))               /* lo = imm */
            e.load(d.hi, width == .w64 && imm < 0 ? 0xffff_ffff : 0) /* hi = sign or 0 */
            write(dst, d, e)
        case .register(let src):
            if width == .w64 {
                write(dst, read(src, into: d, e), e)            /* lo, hi = src */
            } else {
                let lo = readLow(src, into: d.lo, e)
                if lo != d.lo { e.mov(d.lo, lo) }               /* mov lo, src.lo */
                e.load(d.hi, 0)                                 /* mov hi, #0 */
                write(dst, d, e)
            }
        }
    }

    /// 64-bit shifts by a constant, across the pair.
    func shiftImmediate64(_ operation: ALUOperation, _ d: Arm32Pair, _ n: UInt32, _ e: Arm32Encoder) {
        guard n != 0 else { return }
        switch operation {
        case .lsh:
            if n < 32 {
                e.mov(d.hi, .register(d.hi, .lsl, n))           /* lsl hi, hi, #n */
                e.dp(.orr, d.hi, d.hi, .register(d.lo, .lsr, 32 - n)) /* orr hi, hi, lo, lsr #32-n */
                e.mov(d.lo, .register(d.lo, .lsl, n))           /* lsl lo, lo, #n */
            } else {
                e.mov(d.hi, .register(d.lo, .lsl, n - 32))      /* lsl hi, lo, #n-32 */
                e.load(d.lo, 0)                                 /* mov lo, #0 */
            }
        case .rsh, .arsh:
            let type: Arm32Shift = operation == .rsh ? .lsr : .asr
            if n < 32 {
                e.mov(d.lo, .register(d.lo, .lsr, n))           /* lsr lo, lo, #n */
                e.dp(.orr, d.lo, d.lo, .register(d.hi, .lsl, 32 - n)) /* orr lo, lo, hi, lsl #32-n */
                e.mov(d.hi, .register(d.hi, type, n))           /* lsr/asr hi, hi, #n */
            } else {
                if n == 32 {
                    e.mov(d.lo, d.hi)                           /* mov lo, hi */
                } else {
                    e.mov(d.lo, .register(d.hi, type, n - 32))  /* lsr/asr lo, hi, #n-32 */
                }
                if operation == .rsh {
                    e.load(d.hi, 0)                             /* mov hi, #0 */
                } else {
                    e.mov(d.hi, .register(d.hi, .asr, 31))      /* asr hi, hi, #31 */
                }
            }
        default:
            break
        }
    }

    /// 64-bit shifts by a register (amount masked to 0–63). A32 shifts by a
    /// register use the amount's bottom byte, and any amount of 32 to 255
    /// shifts every bit out (lsl, lsr) or fills with the sign (asr): the
    /// negative amounts `n - 32` and `32 - n` become such shifts, so no branch
    /// is needed except for the arithmetic case's sign fill.
    func shiftRegister64(_ operation: ALUOperation, _ d: Arm32Pair, _ amount: Arm32Register, _ e: Arm32Encoder) {
        e.dp(.and, .r12, amount, .immediate(Arm32Immediate(63)!)) /* and r12, src, #63 */
        e.dp(.rsb, .r2, .r12, .immediate(Arm32Immediate(32)!))    /* rsb r2, r12, #32 */
        switch operation {
        case .lsh:
            e.dp(.sub, .lr, .r12, .immediate(Arm32Immediate(32)!)) /* sub lr, r12, #32 */
            e.mov(d.hi, .shiftedBy(d.hi, .lsl, .r12))          /* lsl hi, hi, r12 */
            e.dp(.orr, d.hi, d.hi, .shiftedBy(d.lo, .lsl, .lr)) /* orr hi, hi, lo, lsl lr */
            e.dp(.orr, d.hi, d.hi, .shiftedBy(d.lo, .lsr, .r2)) /* orr hi, hi, lo, lsr r2 */
            e.mov(d.lo, .shiftedBy(d.lo, .lsl, .r12))          /* lsl lo, lo, r12 */
        case .rsh:
            e.dp(.sub, .lr, .r12, .immediate(Arm32Immediate(32)!)) /* sub lr, r12, #32 */
            e.mov(d.lo, .shiftedBy(d.lo, .lsr, .r12))          /* lsr lo, lo, r12 */
            e.dp(.orr, d.lo, d.lo, .shiftedBy(d.hi, .lsl, .r2)) /* orr lo, lo, hi, lsl r2 */
            e.dp(.orr, d.lo, d.lo, .shiftedBy(d.hi, .lsr, .lr)) /* orr lo, lo, hi, lsr lr */
            e.mov(d.hi, .shiftedBy(d.hi, .lsr, .r12))          /* lsr hi, hi, r12 */
        default:
            e.mov(d.lo, .shiftedBy(d.lo, .lsr, .r12))          /* lsr lo, lo, r12 */
            e.dp(.orr, d.lo, d.lo, .shiftedBy(d.hi, .lsl, .r2)) /* orr lo, lo, hi, lsl r2 */
            e.dp(.sub, .lr, .r12, .immediate(Arm32Immediate(32)!), s: true) /* subs lr, r12, #32 */
            e.dp(.orr, d.lo, d.lo, .shiftedBy(d.hi, .asr, .lr), cond: .pl) /* orrpl lo, lo, hi, asr lr */
            e.mov(d.hi, .shiftedBy(d.hi, .asr, .r12))          /* asr hi, hi, r12 */
        }
    }

    mutating func lowerDivide(_ width: Width, _ operation: ALUOperation, dst: Register, _ operand: Operand, _ e: Arm32Encoder) {
        if width == .w32 && options.hardwareDivide {
            let d = readDestination(dst, e)
            let divisor = operandLowRegister(operand, e)
            let signed = operation == .sdiv || operation == .smod
            switch operation {
            case .div, .sdiv:
                if signed { e.sdiv(d.lo, d.lo, divisor) } else { e.udiv(d.lo, d.lo, divisor) } /* udiv/sdiv lo, lo, src */
            default:
                if signed { e.sdiv(.r12, d.lo, divisor) } else { e.udiv(.r12, d.lo, divisor) } /* udiv/sdiv r12, lo, src */
                e.mls(d.lo, .r12, divisor, d.lo)                /* mls lo, r12, src, lo: lo - q × src */
            }
            e.load(d.hi, 0)                                     /* mov hi, #0 */
            write(dst, d, e)
            return
        }
        // Dividend in r0:r1, divisor in r2:r3, result in r0:r1.
        let a = Arm32RegisterMap.a, b = Arm32RegisterMap.b
        let s = operandPair(operand, e)
        if s != b { e.mov(b.lo, s.lo); e.mov(b.hi, s.hi) }    /* mov r2, r3 = src */
        let d = read(dst, into: a, e)
        if d != a { e.mov(a.lo, d.lo); e.mov(a.hi, d.hi) }    /* mov r0, r1 = dst */
        callHost(targets.routines[Arm32Routine(operation, width)] ?? 0, e) /* bl routine */
        write(dst, a, e)
    }

    mutating func lowerByteSwap(_ kind: ByteSwapKind, dst: Register, bits: UInt8, _ e: Arm32Encoder) {
        let d = readDestination(dst, e)
        switch (kind, bits) {
        case (.toLittleEndian, 16):
            e.uxth(d.lo, d.lo)                                  /* uxth lo, lo */
            e.load(d.hi, 0)                                     /* mov hi, #0 */
        case (.toLittleEndian, 32):
            e.load(d.hi, 0)                                     /* mov hi, #0 */
        case (.toLittleEndian, _):
            return
        case (_, 16):
            e.rev16(d.lo, d.lo)                                 /* rev16 lo, lo */
            e.uxth(d.lo, d.lo)                                  /* uxth lo, lo */
            e.load(d.hi, 0)                                     /* mov hi, #0 */
        case (_, 32):
            e.rev(d.lo, d.lo)                                   /* rev lo, lo */
            e.load(d.hi, 0)                                     /* mov hi, #0 */
        default:
            e.rev(.r12, d.lo)                                   /* rev r12, lo */
            e.rev(d.lo, d.hi)                                   /* rev lo, hi */
            e.mov(d.hi, .r12)                                   /* mov hi, r12 */
        }
        write(dst, d, e)
    }
}

// MARK: - Branches

extension Arm32Backend {
    static func condition32(_ condition: JumpCondition) -> Arm32Condition {
        switch condition {
        case .eq: .eq
        case .ne, .set: .ne
        case .gt: .hi
        case .ge: .hs
        case .lt: .lo
        case .le: .ls
        case .sgt: .gt
        case .sge: .ge
        case .slt: .lt
        case .sle: .le
        }
    }

    func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand, to target: Label,
                     _ e: Arm32Encoder) {
        if width == .w32 {
            let lo = readLow(dst, into: .r0, e)
            let o = operandLow(operand, e)
            if condition == .set { e.tst(lo, o) } else { e.cmp(lo, o) } /* cmp/tst lo, src */
            e.b(target, cond: Self.condition32(condition))      /* b<cond> target */
            return
        }
        let d = read(dst, into: Arm32RegisterMap.a, e)
        let s = operandPair(operand, e)
        switch condition {
        case .set:
            e.tst(d.hi, .register(s.hi))                        /* tst hi, src.hi */
            e.tst(d.lo, .register(s.lo), cond: .eq)             /* tsteq lo, src.lo */
            e.b(target, cond: .ne)                              /* bne target */
        case .eq, .ne, .gt, .ge, .lt, .le:
            e.cmp(d.hi, .register(s.hi))                        /* cmp hi, src.hi */
            e.cmp(d.lo, .register(s.lo), cond: .eq)             /* cmpeq lo, src.lo */
            e.b(target, cond: Self.condition32(condition))      /* b<cond> target */
        case .slt, .sge:
            e.dp(.sub, .r12, d.lo, .register(s.lo), s: true)    /* subs r12, lo, src.lo */
            e.dp(.sbc, .r12, d.hi, .register(s.hi), s: true)    /* sbcs r12, hi, src.hi */
            e.b(target, cond: condition == .slt ? .lt : .ge)    /* blt/bge target */
        case .sgt, .sle:
            e.dp(.sub, .r12, s.lo, .register(d.lo), s: true)    /* subs r12, src.lo, lo */
            e.dp(.sbc, .r12, s.hi, .register(d.hi), s: true)    /* sbcs r12, src.hi, hi */
            e.b(target, cond: condition == .sgt ? .lt : .ge)    /* blt/bge target */
        }
    }
}

// MARK: - Calls

extension Arm32Backend {
    /// A helper call with its arguments placed by prototype (`AAPCS`):
    /// stack slots first (through r0:r1), then r0–r3. One-word results come
    /// back in r0 and are zero-extended; 64-bit ones in r0:r1.
    mutating func lowerHelperCall(_ id: Int32, _ e: Arm32Encoder) {
        guard let helper = helpers.registry[id], let target = targets.helpers[id] else {
            e.asm.code.poison("helper \(id) has no call target")
            return
        }
        let slots = Arm32RegisterMap.slots
        let locations = AAPCS.locations(for: helper.prototype.arguments)
        for (index, location) in locations.enumerated() {
            guard case .stack(let offset, let bytes) = location else { continue }
            let slot = Arm32RegisterMap.slot(Register(rawValue: UInt8(index + 1))!)
            if bytes == 8 {
                e.access(.ldrd, .r0, slots, offset: slot)       /* ldrd r0, r1, [r11, #slot] */
                e.access(.strd, .r0, .sp, offset: offset)       /* strd r0, r1, [sp, #offset] */
            } else {
                e.access(.ldr, .r0, slots, offset: slot)        /* ldr r0, [r11, #slot] */
                e.access(.str, .r0, .sp, offset: offset)        /* str r0, [sp, #offset] */
            }
        }
        for (index, location) in locations.enumerated() {
            let slot = Arm32RegisterMap.slot(Register(rawValue: UInt8(index + 1))!)
            switch location {
            case .pair(let n): e.access(.ldrd, Arm32Register(UInt32(n)), slots, offset: slot) /* ldrd rN, rN+1, [r11, #slot] */
            case .register(let n): e.access(.ldr, Arm32Register(UInt32(n)), slots, offset: slot) /* ldr rN, [r11, #slot] */
            case .stack: break
            }
        }
        callHost(target, e)                                     /* bl helper */
        if AAPCS.isWord(helper.prototype.result) { e.load(.r1, 0) } /* mov r1, #0 */
        e.access(.strd, .r0, slots, offset: Arm32RegisterMap.slot(.r0)) /* strd r0, r1, [r11]: BPF r0 */
    }

    /// `callx`: the helper number is compared with every helper the machine
    /// has, and the matching call made; another number stops the run.
    mutating func lowerDynamicCall(_ register: Register, pc: Int, _ e: Arm32Encoder) {
        let value = read(register, into: Arm32RegisterMap.a, e)
        e.mov(.r12, value.lo)                                   /* mov r12, lo */
        e.mov(.lr, value.hi)                                    /* mov lr, hi */
        let missing = e.asm.makeLabel(), done = e.asm.makeLabel()
        e.cmp(.lr, .immediate(Self.zero))                       /* cmp lr, #0 */
        e.b(missing, cond: .ne)                                 /* bne missing */
        let ids = targets.helpers.keys.sorted()
        var labels: [Label] = []
        for id in ids {
            let label = e.asm.makeLabel()
            labels.append(label)
            e.load(.r1, UInt32(bitPattern: id))                 /* r1 = id */
            e.cmp(.r12, .register(.r1))                         /* cmp r12, r1 */
            e.b(label, cond: .eq)                               /* beq call */
        }
        e.asm.bind(missing)
        e.access(.ldr, .r1, Arm32RegisterMap.slots, offset: Arm32RegisterMap.contextSlot) /* ldr r1, [r11, #56] */
        e.access(.str, .r12, .r1, offset: Int(layout.dynamicHelper))     /* str r12, [r1, #dynamicHelper] */
        e.access(.str, .lr, .r1, offset: Int(layout.dynamicHelper) + 4) /* str lr, [r1, #dynamicHelper + 4] */
        raise(Arm32Status.dynamicHelperMissing, pc: pc, e)
        for (id, label) in zip(ids, labels) {
            e.asm.bind(label)
            lowerHelperCall(id, e)
            e.b(done)                                           /* b done */
        }
        e.asm.bind(done)
    }

    /// The runaway guard, charged on every backward jump (with the number of
    /// slots it jumps back over, `JITProofs.guardCharge`) and on every local
    /// call (with 1), as on x86-64 and arm64, so every JIT stops a runaway
    /// program after the same amount of work. The budget is the run
    /// context's 64-bit word, which tail calls share:
    ///
    /// ```
    ///     ldr  r12, [r11, #56]            ; the run context
    ///     ldr  r2, [r12, #budget]
    ///     ldr  r3, [r12, #budget + 4]
    ///     subs r2, r2, #charge
    ///     sbcs r3, r3, #0
    ///     str  r2, [r12, #budget]
    ///     str  r3, [r12, #budget + 4]
    ///     bpl  1f
    ///     (stop: status = instructionLimit at pc)
    /// 1:
    /// ```
    ///
    /// It runs before the jump's own compare, where r0–r3, r12 and lr are
    /// scratch. Nothing when the proofs say every run ends within the budget.
    mutating func chargeGuard(_ charge: Int, pc: Int, _ e: Arm32Encoder) {
        if proofs.unguarded { return }
        statistics.guardCharges += 1
        let budget = Int(layout.budget)
        e.access(.ldr, .r12, Arm32RegisterMap.slots, offset: Arm32RegisterMap.contextSlot) /* ldr r12, [r11, #56] */
        e.access(.ldr, .r2, .r12, offset: budget)               /* ldr r2, [r12, #budget] */
        e.access(.ldr, .r3, .r12, offset: budget + 4)           /* ldr r3, [r12, #budget + 4] */
        if let imm = Arm32Immediate(UInt32(charge)) {
            e.dp(.sub, .r2, .r2, .immediate(imm), s: true)      /* subs r2, r2, #charge */
        } else {
            e.load(.lr, UInt32(charge))                         /* lr = charge */
            e.dp(.sub, .r2, .r2, .register(.lr), s: true)       /* subs r2, r2, lr */
        }
        e.dp(.sbc, .r3, .r3, .immediate(Self.zero), s: true)    /* sbcs r3, r3, #0 */
        e.access(.str, .r2, .r12, offset: budget)               /* str r2, [r12, #budget] */
        e.access(.str, .r3, .r12, offset: budget + 4)           /* str r3, [r12, #budget + 4] */
        raise(JITStatus.instructionLimit, pc: pc, e, cond: .mi)
    }

    /// A local call: the guard, the depth check, r10 one frame down, `bl`, and back.
    mutating func lowerLocalCall(to target: Int, pc: Int, _ e: Arm32Encoder) {
        chargeGuard(1, pc: pc, e)
        let slots = Arm32RegisterMap.slots, fp = Arm32RegisterMap.framePointer
        let frame = Arm32Immediate(UInt32(ExecutionLimits.stackSizePerFrame))!
        e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.depthSlot) /* ldr r12, [r11, #64] */
        e.dp(.add, .r12, .r12, .immediate(Arm32Immediate(1)!))  /* add r12, r12, #1 */
        e.cmp(.r12, .immediate(Arm32Immediate(UInt32(ExecutionLimits.maxCallFrames))!)) /* cmp r12, #frames */
        raise(JITStatus.callDepth, pc: pc, e, cond: .hs)
        e.access(.str, .r12, slots, offset: Arm32RegisterMap.depthSlot) /* str r12, [r11, #64] */
        e.dp(.sub, fp, fp, .immediate(frame))                   /* sub r10, r10, #512 */
        let index = functionIndex[target] ?? 0
        e.bl(index == 0 ? entryInnerLabel : e.asm.function(index)) /* bl function (the entry past its run setup) */
        e.dp(.add, fp, fp, .immediate(frame))                   /* add r10, r10, #512 */
        e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.depthSlot) /* ldr r12, [r11, #64] */
        e.dp(.sub, .r12, .r12, .immediate(Arm32Immediate(1)!))  /* sub r12, r12, #1 */
        e.access(.str, .r12, slots, offset: Arm32RegisterMap.depthSlot) /* str r12, [r11, #64] */
    }
}

// MARK: - Memory

extension Arm32Backend {
    /// Leaves `base + offset` in r12, after the slow bounds check when the
    /// access keeps one: `check(context, address, info)` with the context in
    /// r0:r1, the address in r2:r3 and the info word at [sp]; nonzero means
    /// the host recorded the error and the run ends.
    mutating func address(base: Register, offset: Int16, size: Int, write: Bool, pc: Int, _ e: Arm32Encoder, atomic: Bool = false) {
        if checked.contains(pc) {
            let b = readLow(base, into: .r2, e)
            e.addConstant(.r2, b, Int32(offset), scratch: .r3)  /* r2 = base + offset */
            e.load(.r3, 0)                                      /* mov r3, #0 */
            e.access(.ldr, .r0, Arm32RegisterMap.slots, offset: Arm32RegisterMap.contextSlot) /* ldr r0, [r11, #56] */
            e.load(.r1, 0)                                      /* mov r1, #0 */
            e.load(.lr, JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic)) /* lr = info */
            e.access(.str, .lr, .sp, offset: 0)                 /* str lr, [sp] */
            e.access(.str, .r1, .sp, offset: 4)                 /* str r1, [sp, #4] */
            callHost(targets.checkAccess, e)                    /* bl check */
            e.cmp(.r0, .immediate(Self.zero))                   /* cmp r0, #0 */
            e.b(errorExitLabel, cond: .ne)                      /* bne exit */
            statistics.checkedAccesses += 1
        }
        let b = readLow(base, into: .r12, e)
        e.addConstant(.r12, b, Int32(offset), scratch: .lr)     /* r12 = base + offset */
    }

    mutating func lowerLoad(_ size: AccessSize, signed: Bool, dst: Register, base: Register, offset: Int16, pc: Int,
                            _ e: Arm32Encoder) {
        address(base: base, offset: offset, size: size.bytes, write: false, pc: pc, e)
        let d = destination(dst)
        switch size {
        case .byte: e.access(signed ? .ldrsb : .ldrb, d.lo, .r12) /* ldrb/ldrsb lo, [r12] */
        case .half: e.access(signed ? .ldrsh : .ldrh, d.lo, .r12) /* ldrh/ldrsh lo, [r12] */
        case .word: e.access(.ldr, d.lo, .r12)                  /* ldr lo, [r12] */
        case .double:
            e.access(.ldr, d.lo, .r12)                          /* ldr lo, [r12] */
            e.access(.ldr, d.hi, .r12, offset: 4)               /* ldr hi, [r12, #4] */
        }
        if size != .double {
            if signed { e.mov(d.hi, .register(d.lo, .asr, 31)) } else { e.load(d.hi, 0) } /* hi = sign or 0 */
        }
        write(dst, d, e)
    }

    func lowerStore(_ size: AccessSize, _ s: Arm32Pair, _ e: Arm32Encoder) {
        switch size {
        case .byte: e.access(.strb, s.lo, .r12)                 /* strb lo, [r12] */
        case .half: e.access(.strh, s.lo, .r12)                 /* strh lo, [r12] */
        case .word: e.access(.str, s.lo, .r12)                  /* str lo, [r12] */
        case .double:
            e.access(.str, s.lo, .r12)                          /* str lo, [r12] */
            e.access(.str, s.hi, .r12, offset: 4)               /* str hi, [r12, #4] */
        }
    }

    /// Atomics as load-exclusive/store-exclusive loops between two `dmb ish`
    /// (LDREX/STREX for 32 bits, LDREXD/STREXD for 64). The 64-bit operand
    /// waits in the outgoing area at [sp, #16], since the loop needs r0:r1
    /// for the old value and r2:r3 for the new one.
    mutating func lowerAtomic(_ width: Width, _ operation: AtomicOperation, dst: Register, offset: Int16, src: Register, pc: Int,
                              _ e: Arm32Encoder) {
        address(base: dst, offset: offset, size: width == .w64 ? 8 : 4, write: true, pc: pc, e, atomic: true)
        let slots = Arm32RegisterMap.slots, a = Arm32RegisterMap.a
        let loop = e.asm.makeLabel(), done = e.asm.makeLabel()
        var fetches = false
        if width == .w32 {
            let s = readLow(src, into: .r2, e)
            if operation == .cmpxchg { e.access(.ldr, .r3, slots, offset: Arm32RegisterMap.slot(.r0)) } /* ldr r3, [r11]: r0 */
            e.dmbISH()                                          /* dmb ish */
            e.asm.bind(loop)
            e.ldrex(.r0, .r12)                                  /* ldrex r0, [r12] */
            var value = Arm32Register.r1
            switch operation {
            case .cmpxchg:
                e.cmp(.r0, .register(.r3))                      /* cmp r0, r3 */
                e.b(done, cond: .ne)                            /* bne done */
                value = s
            case .xchg:
                value = s
                fetches = true
            case .add(let fetch), .or(let fetch), .and(let fetch), .xor(let fetch):
                let op: Arm32DataOp = switch operation { case .add: .add; case .or: .orr; case .and: .and; default: .eor }
                e.dp(op, .r1, .r0, .register(s))                /* op r1, r0, src */
                fetches = fetch
            }
            e.strex(.lr, value, .r12)                           /* strex lr, value, [r12] */
            e.cmp(.lr, .immediate(Self.zero))                   /* cmp lr, #0 */
            e.b(loop, cond: .ne)                                /* bne loop */
            e.asm.bind(done)
            e.dmbISH()                                          /* dmb ish */
            if operation == .cmpxchg || fetches { e.load(.r1, 0) } /* mov r1, #0 */
        } else {
            let s = read(src, into: Arm32RegisterMap.b, e)
            e.access(.strd, s.lo, .sp, offset: 16)              /* strd src, [sp, #16] */
            e.dmbISH()                                          /* dmb ish */
            e.asm.bind(loop)
            e.ldrexd(.r0, .r12)                                 /* ldrexd r0, r1, [r12] */
            switch operation {
            case .cmpxchg:
                e.access(.ldrd, .r2, slots, offset: Arm32RegisterMap.slot(.r0)) /* ldrd r2, r3, [r11]: r0 */
                e.cmp(.r1, .register(.r3))                      /* cmp r1, r3 */
                e.cmp(.r0, .register(.r2), cond: .eq)           /* cmpeq r0, r2 */
                e.b(done, cond: .ne)                            /* bne done */
                e.access(.ldrd, .r2, .sp, offset: 16)           /* ldrd r2, r3, [sp, #16] */
            case .xchg:
                e.access(.ldrd, .r2, .sp, offset: 16)           /* ldrd r2, r3, [sp, #16] */
                fetches = true
            case .add(let fetch):
                e.access(.ldrd, .r2, .sp, offset: 16)           /* ldrd r2, r3, [sp, #16] */
                e.dp(.add, .r2, .r0, .register(.r2), s: true)   /* adds r2, r0, r2 */
                e.dp(.adc, .r3, .r1, .register(.r3))            /* adc r3, r1, r3 */
                fetches = fetch
            case .or(let fetch), .and(let fetch), .xor(let fetch):
                let op: Arm32DataOp = switch operation { case .or: .orr; case .and: .and; default: .eor }
                e.access(.ldrd, .r2, .sp, offset: 16)           /* ldrd r2, r3, [sp, #16] */
                e.dp(op, .r2, .r0, .register(.r2))              /* op r2, r0, r2 */
                e.dp(op, .r3, .r1, .register(.r3))              /* op r3, r1, r3 */
                fetches = fetch
            }
            e.strexd(.lr, .r2, .r12)                            /* strexd lr, r2, r3, [r12] */
            e.cmp(.lr, .immediate(Self.zero))                   /* cmp lr, #0 */
            e.b(loop, cond: .ne)                                /* bne loop */
            e.asm.bind(done)
            e.dmbISH()                                          /* dmb ish */
        }
        if operation == .cmpxchg {
            e.access(.strd, .r0, slots, offset: Arm32RegisterMap.slot(.r0)) /* strd r0, r1, [r11]: r0 = old */
        } else if fetches {
            write(src, a, e)                                    /* src = old */
        }
    }
}
