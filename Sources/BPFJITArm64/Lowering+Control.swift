import BPFISA
import BPFJIT
import BPFRuntime

extension Arm64Backend {
    /// The runaway guard, charged on every backward jump (with the number of
    /// slots it jumps back over) and on every local call (with 1), against a
    /// budget the prologue loads into x27 from the run context:
    ///
    /// ```
    ///     subs x27, x27, #charge
    ///     b.mi .stop                      ; stub: status = instructionLimit at pc
    /// ```
    ///
    /// The same rule as the x86-64 backend's (see docs/ARCHITECTURE.md), so
    /// both JITs stop a runaway program after the same amount of work.
    /// Nothing when the proofs say every run ends within the budget.
    mutating func chargeGuard(_ charge: Int, pc: Int, _ e: Arm64Encoder) {
        if proofs.unguarded { return }
        statistics.guardCharges += 1
        let stop = e.asm.makeLabel(), budget = Arm64RegisterMap.budget
        if let imm = ArithmeticImmediate(UInt64(charge)) {
            e.subs(.x, budget, budget, imm)                         /* subs x27, x27, #charge */
        } else {
            let scratch = Arm64RegisterMap.immediate
            loadConstant(scratch, UInt64(charge), e)
            e.subs(.x, budget, budget, scratch)                     /* subs x27, x27, x10 */
        }
        e.b(.mi, stop)                                              /* b.mi stop: budget exhausted */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.instructionLimit, pc: pc)))
    }

    /// `ja`/`gotol`: nothing for a jump to the next slot.
    mutating func lowerJump(to target: Int, at pc: Int, _ e: Arm64Encoder) {
        if target == pc + 1 { return }
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        e.b(e.asm.instruction(target))                              /* b target */
    }

    /// Conditional jumps, 32- and 64-bit, immediate or register operand.
    /// Comparisons with zero for (in)equality are CBZ/CBNZ and tests of a
    /// single bit are TBNZ; the rest compare (CMP/CMN/TST with an immediate
    /// when it fits) and branch on the condition.
    mutating func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand,
                              to target: Int, at pc: Int, _ e: Arm64Encoder) {
        if target == pc + 1 { return }                              // no effect either way
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        let s = Arm64Size(width), d = Arm64RegisterMap.native(dst), label = e.asm.instruction(target)
        switch operand {
        case .register(let srcRegister):
            let m = Arm64RegisterMap.native(srcRegister)
            if condition == .set {
                e.tst(s, d, m)                                      /* tst dst, src */
            } else {
                e.cmp(s, d, m)                                      /* cmp dst, src */
            }
        case .immediate(let imm):
            let value: UInt64 = s == .x ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))
            if imm == 0 && condition == .eq {
                e.cbz(s, d, label)                                  /* cbz dst, target */
                return
            }
            if imm == 0 && condition == .ne {
                e.cbnz(s, d, label)                                 /* cbnz dst, target */
                return
            }
            if condition == .set && value.nonzeroBitCount == 1 {
                e.tbnz(d, bit: UInt32(value.trailingZeroBitCount), label) /* tbnz dst, #bit, target */
                return
            }
            if condition == .set {
                if let mask = LogicalImmediate(value, size: s) {
                    e.tst(s, d, mask)                               /* tst dst, #imm */
                } else {
                    let scratch = Arm64RegisterMap.immediate
                    materialize(s, scratch, value, e)
                    e.tst(s, d, scratch)                            /* tst dst, x10 */
                }
            } else {
                compare(s, d, Int64(imm), e)
            }
        }
        e.b(Arm64Condition(condition), label)                       /* b.cond target */
    }

    /// Flags of dst - imm: CMP #imm12, CMN #-imm12 for negatives (the same
    /// flags as CMP of the negated value for every value but 0), else x10.
    func compare(_ s: Arm64Size, _ d: Arm64Register, _ imm: Int64, _ e: Arm64Encoder) {
        if imm >= 0, let positive = ArithmeticImmediate(UInt64(imm)) {
            e.cmp(s, d, positive)                                   /* cmp dst, #imm */
        } else if imm < 0, let negated = ArithmeticImmediate(imm.magnitude) {
            e.cmn(s, d, negated)                                    /* cmn dst, #-imm */
        } else {
            let scratch = Arm64RegisterMap.immediate
            materialize(s, scratch, UInt64(bitPattern: imm), e)
            e.cmp(s, d, scratch)                                    /* cmp dst, x10 */
        }
    }

    /// Helper calls, local calls, calls through a register, kfunc calls.
    mutating func lowerCall(_ target: CallTarget, at pc: Int, _ e: Arm64Encoder) {
        switch target {
        case .helper(let id):
            callHelper(.helper(id), at: pc, e)
        case .register(let register):
            callHelper(.register(Arm64RegisterMap.native(register)), at: pc, e)
        case .local(let offset):
            let callee = pc + 1 + Int(offset)
            let index = functionOfEntry[callee]!
            let r10 = Arm64RegisterMap.native(.r10), scratch = Arm64RegisterMap.address
            chargeGuard(1, pc: pc, e)
            let tooDeep = e.asm.makeLabel()
            e.sub(.x, scratch, r10, Arm64RegisterMap.stackBase)     /* sub x9, x25, x24: bytes of stack left */
            e.cmp(.x, scratch, ArithmeticImmediate(UInt64(2 * Self.frameBytes))!) /* cmp x9, #1024: room for one more frame? */
            e.b(.lo, tooDeep)                                       /* b.lo call-depth stub */
            stubs.append(.raise(tooDeep, status: JITStatus.word(JITStatus.callDepth, pc: pc)))
            let frameSize = ArithmeticImmediate(UInt64(Self.frameBytes))!
            e.sub(.x, r10, r10, frameSize)                          /* sub x25, x25, #512: the callee's r10 */
            e.bl(index == 0 && entryIsCallTarget ? entryInnerLabel : e.asm.function(index)) /* bl function */
            e.add(.x, r10, r10, frameSize)                          /* add x25, x25, #512: our r10 again */
        case .kfunc:
            stopUnsupported(at: pc, e)
        }
    }

    /// An instruction this engine cannot run: stop with `unsupported` when reached.
    mutating func stopUnsupported(at pc: Int, _ e: Arm64Encoder) {
        let stop = e.asm.makeLabel()
        e.b(stop)                                                   /* b unsupported stub */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.unsupported, pc: pc)))
    }

    enum HelperCallee {
        case helper(Int32)
        /// `callx`: the number is in this register at run time.
        case register(Arm64Register)
    }

    /// A helper call. r1–r5 are already x0–x4, the AAPCS64 argument
    /// registers; those still read after the call (`liveAcrossCalls`) are
    /// pushed around it, since the interpreter keeps them, and the result
    /// moves from x0 to r0 (x7).
    ///
    /// Emulated (an address per helper):
    /// ```
    ///     stp  x0, x1, [sp, #-32]!        ; the live ones of r1–r5
    ///     bl   helper                     ; or movz/movk x16, helper; blr x16
    ///     mov  x7, x0
    ///     ldp  x0, x1, [sp], #32
    /// ```
    /// `callx` puts the number in x9 and the status a miss reports in w10,
    /// and calls the image's table walk (`emitDispatch`) instead.
    ///
    /// Native (one host routine, as the x86-64 backend calls it):
    /// ```
    ///     mov  x5, x26                    ; 6th argument: run context
    ///     mov  w10, #(slot << 24 | pc); str x10, [x26, #site]
    ///     bl   JITHostRoutines.callHelper
    ///     mov  x7, x0; ldp …
    ///     ldr  x10, [x26, #status]; cbnz x10, errorExit
    /// ```
    mutating func callHelper(_ callee: HelperCallee, at pc: Int, _ e: Arm64Encoder) {
        let context = Arm64RegisterMap.context, scratch = Arm64RegisterMap.immediate
        let live = liveAcrossCalls[pc] ?? 0b11111
        let kept = Arm64RegisterMap.arguments.enumerated().filter { live & (1 << $0.offset) != 0 }.map(\.element)
        switch targets.helpers {
        case .perHelper(let addresses):
            if case .register(let register) = callee {
                e.mov(.x, Arm64RegisterMap.address, register)       /* mov x9, reg: the helper number */
            }
            pushArguments(kept, e)
            switch callee {
            case .helper(let id):
                callHost(addresses[id]!, e)
            case .register:
                loadConstant32(scratch, JITStatus.word(Arm64Status.dynamicHelperMissing, pc: pc), e) /* mov w10, miss status */
                e.bl(dispatchLabel)                                 /* bl table walk */
            }
            e.mov(.x, Arm64RegisterMap.native(.r0), .x(0))          /* mov x7, x0: r0 = result */
            popArguments(kept, e)
        case .hostRoutine(let routine):
            let slot: Int
            switch callee {
            case .helper(let id):
                slot = helpers.slot(of: id)
            case .register(let register):
                e.str(.double, register, context, offset: Int(layout.dynamicHelper)) /* str reg, [x26, #dynamicHelper] */
                slot = JITHelperTable.dynamicSlot
            }
            pushArguments(kept, e)
            e.mov(.x, .x(5), context)                               /* mov x5, x26: 6th argument */
            loadConstant32(scratch, JITHelperTable.site(slot: slot, pc: pc), e) /* mov w10, slot << 24 | pc */
            e.str(.double, scratch, context, offset: Int(layout.site)) /* str x10, [x26, #site] */
            callHost(routine, e)
            e.mov(.x, Arm64RegisterMap.native(.r0), .x(0))          /* mov x7, x0: r0 = result */
            popArguments(kept, e)
            e.ldr(.double, scratch, context, offset: Int(layout.status)) /* ldr x10, [x26, #status] */
            e.cbnz(.x, scratch, errorExitLabel)                     /* cbnz x10, error exit: the helper failed */
        }
    }

    /// Pushes r1–r5 homes in pairs within one 16-byte-aligned block.
    func pushArguments(_ registers: [Arm64Register], _ e: Arm64Encoder) {
        guard !registers.isEmpty else { return }
        let size = (registers.count + 1) / 2 * 16
        for i in stride(from: 0, to: registers.count, by: 2) {
            let second = i + 1 < registers.count ? registers[i + 1] : .zr
            if i == 0 {
                e.stp(registers[0], second, .sp, offset: -size, .preIndex) /* stp a, b, [sp, #-size]! */
            } else {
                e.stp(registers[i], second, .sp, offset: 8 * i)      /* stp a, b, [sp, #8i] */
            }
        }
    }

    /// Pops what `pushArguments` pushed.
    func popArguments(_ registers: [Arm64Register], _ e: Arm64Encoder) {
        guard !registers.isEmpty else { return }
        let size = (registers.count + 1) / 2 * 16
        for i in stride(from: 0, to: registers.count, by: 2).reversed() {
            let second = i + 1 < registers.count ? registers[i + 1] : .zr
            if i == 0 {
                e.ldp(registers[0], second, .sp, offset: size, .postIndex) /* ldp a, b, [sp], #size */
            } else {
                e.ldp(registers[i], second, .sp, offset: 8 * i)      /* ldp a, b, [sp, #8i] */
            }
        }
    }

    /// A call to host code at an absolute address (seed 000): `bl target`
    /// when the image address is known and the target lies within ±128 MiB
    /// of this very instruction, else the address in x16 (move-wide, as few
    /// instructions as the address needs; the same in every pass) and
    /// `blr x16`. While the image address is unknown the indirect form is
    /// sized; once known, each site decides for itself.
    mutating func callHost(_ target: UInt64, _ e: Arm64Encoder) {
        if let image = e.asm.imageAddress {
            let here = UInt64(image) &+ UInt64(e.code.count)
            if Arm64Encoder.reaches(target, from: here) {
                e.bl(absolute: target, from: here)                  /* bl target */
                statistics.directCalls += 1
                return
            }
        }
        loadConstant(Arm64RegisterMap.callTarget, target, e)         /* movz/movk x16, target */
        e.blr(Arm64RegisterMap.callTarget)                          /* blr x16 */
        statistics.indirectCalls += 1
    }

    /// The slow bounds check shared by all access sites, called from their
    /// stubs with the address in x9 and the access word in w10: keeps every
    /// register a BPF program may hold a value in across the call, calls the
    /// check routine `(context, address, info)`, and leaves through the error
    /// exit if it refused.
    mutating func emitCheckRoutine(_ e: Arm64Encoder) {
        e.asm.bind(checkRoutineLabel)
        let address = Arm64RegisterMap.address, scratch = Arm64RegisterMap.immediate
        e.stp(.fp, .lr, .sp, offset: -80, .preIndex)               /* stp x29, x30, [sp, #-80]! */
        e.stp(.x(0), .x(1), .sp, offset: 16)                        /* stp x0, x1, [sp, #16]: r1, r2 */
        e.stp(.x(2), .x(3), .sp, offset: 32)                        /* stp x2, x3, [sp, #32]: r3, r4 */
        e.stp(.x(4), .x(7), .sp, offset: 48)                        /* stp x4, x7, [sp, #48]: r5, r0 */
        e.stp(address, .x(14), .sp, offset: 64)                     /* stp x9, x14, [sp, #64]: the address, ax */
        e.mov(.x, .x(0), Arm64RegisterMap.context)                  /* mov x0, x26: context */
        e.mov(.x, .x(1), address)                                   /* mov x1, x9: address */
        e.mov(.x, .x(2), scratch)                                   /* mov x2, x10: access info */
        callHost(targets.checkAccess, e)
        e.mov(.x, scratch, .x(0))                                   /* mov x10, x0: refused? */
        e.ldp(address, .x(14), .sp, offset: 64)                     /* ldp x9, x14, [sp, #64] */
        e.ldp(.x(4), .x(7), .sp, offset: 48)                        /* ldp x4, x7, [sp, #48] */
        e.ldp(.x(2), .x(3), .sp, offset: 32)                        /* ldp x2, x3, [sp, #32] */
        e.ldp(.x(0), .x(1), .sp, offset: 16)                        /* ldp x0, x1, [sp, #16] */
        e.ldp(.fp, .lr, .sp, offset: 80, .postIndex)                /* ldp x29, x30, [sp], #80 */
        e.cbnz(.x, scratch, errorExitLabel)                         /* cbnz x10, error exit */
        e.ret()                                                     /* ret to the stub */
    }
}
