import BPFISA
import BPFJIT
import BPFRuntime

/// `bpf_tail_call(r1 = ctx, r2 = program array, r3 = index)`, indirect,
/// with the other backends' semantics (see docs/ARCHITECTURE.md, *Tail calls*):
///
/// ```
///     ld t2, entryContext(s6) ; bne a0, t2, .stop           ; r1 must be the run's context
///     li t2, handle_k ; beq a1, t2, .array_k                ; each array the program loads
///     sd a1, dynamicHelper(s6) ; j .notAProgramArray
/// .array_k:
///     zext.w t3, a2 ; li t2, max_entries_k ; bgeu t3, t2, .out
///     li t6, entries_k ; slli t3, t3, 3 ; add t6, t6, t3   (Zba: sh3add t6, t3, t6)
///     ld t6, 0(t6) ; beqz t6, .out                          ; the slot's entry, 0 when empty
///     ld t2, tailCallCount(s6) ; li t3, 33 ; bgeu t2, t3, .out
///     addi t2, t2, 1 ; sd t2, tailCallCount(s6)
///     sd s7, budget(s6)                                     ; the budget goes on with the target
///     ld sp, exitStack(s6) ; mv a2, s6 ; <unwind the entry frame> ; jr t6
/// .out:
/// ```
///
/// From a subprogram (or from function 0 when it is also a local-call
/// target) the target is called instead (`jalr ra, t6`) with the context
/// fields its prologue overwrites saved around the call, and the function
/// returns the target's r0. A constant slot skips the array search and the
/// bounds check. Under the emulator, programs that share program arrays
/// share a machine, so the target's image is one the CPU can jump into.
extension RV64Backend {
    mutating func lowerTailCall(at pc: Int, in function: JITFunctionInfo, _ e: RV64Encoder) {
        guard let plan = tailCalls else { return }
        let outermost = function.index == 0 && !entryIsCallTarget
        let out = e.asm.makeLabel(), target = RV64RegisterMap.callTarget
        statistics.indirectTailCalls += 1
        emitTailCallContextCheck(at: pc, e)
        if let constant = plan.constantSites[pc] {
            guard Int(constant.index) < constant.array.maxEntries else { return } // always out of range: falls through
            e.loadImmediate(target, Int64(bitPattern: constant.array.entries + 8 * UInt64(constant.index))) /* li t6, &entries[index] */
            e.ld(target, 0, target)                         /* ld t6, 0(t6): the slot's entry */
            e.branch(.eq, target, .zero, out)               /* beqz t6, out: empty slot */
        } else {
            emitFindTailCallTarget(plan.arrays, out: out, at: pc, e)
        }
        if !plan.arrays.isEmpty || plan.constantSites[pc] != nil {
            emitEnterTailCall(outermost: outermost, out: out, function, e)
        }
        e.asm.bind(out)
    }

    /// The backstop behind the verifier's rule that r1 is the program's
    /// context: a tail call with any other r1 stops the run
    /// (`ExecutionError.tailCallContextMismatch`).
    mutating func emitTailCallContextCheck(at pc: Int, _ e: RV64Encoder) {
        let scratch = RV64RegisterMap.immediate, mismatch = e.asm.makeLabel()
        e.ld(scratch, Int64(layout.entryContext), RV64RegisterMap.context) /* ld t2, entryContext(s6) */
        e.branch(.ne, RV64RegisterMap.native(.r1), scratch, mismatch)      /* bne a0, t2, stop */
        stubs.append(.raise(mismatch, status: JITStatus.word(JITStatus.tailCallContext, pc: pc)))
        statistics.tailCallContextChecks += 1
    }

    /// Finds the array r2 names among those the program loads, checks the
    /// index and loads the slot's entry into t6.
    mutating func emitFindTailCallTarget(_ arrays: [JITTailCallArray], out: Label, at pc: Int, _ e: RV64Encoder) {
        let context = RV64RegisterMap.context, scratch = RV64RegisterMap.immediate
        let target = RV64RegisterMap.callTarget, index = RV64Register.t3
        let r2 = RV64RegisterMap.native(.r2), r3 = RV64RegisterMap.native(.r3)
        let labels = arrays.map { _ in e.asm.makeLabel() }
        for (array, label) in zip(arrays, labels) {
            e.loadImmediate(scratch, Int64(bitPattern: array.handle)) /* li t2, handle */
            e.branch(.eq, r2, scratch, label)               /* beq a1, t2, array_k */
        }
        let notArray = e.asm.makeLabel()
        e.sd(r2, Int64(layout.dynamicHelper), context)      /* sd a1, dynamicHelper(s6): for the report */
        e.j(notArray)                                       /* j not-a-program-array stub */
        stubs.append(.raise(notArray, status: JITStatus.word(JITStatus.notAProgramArray, pc: pc)))
        let found = e.asm.makeLabel()
        for (k, (array, label)) in zip(arrays, labels).enumerated() {
            e.asm.bind(label)
            e.zeroExtend32(index, r3)                       /* zext.w t3, a2: r3 is a u32 index */
            e.loadImmediate(scratch, Int64(array.maxEntries)) /* li t2, max_entries */
            e.branch(.geu, index, scratch, out)             /* bgeu t3, t2, out */
            e.loadImmediate(target, Int64(bitPattern: array.entries)) /* li t6, entries */
            if options.zba {
                e.shadd(3, target, index, target)           /* sh3add t6, t3, t6 */
            } else {
                e.slli(index, index, 3)                     /* slli t3, t3, 3 */
                e.add(target, target, index)                /* add t6, t6, t3 */
            }
            e.ld(target, 0, target)                         /* ld t6, 0(t6): the slot's entry */
            e.branch(.eq, target, .zero, out)               /* beqz t6, out: empty slot */
            if k + 1 < arrays.count { e.j(found) }          /* j found */
        }
        e.asm.bind(found)
    }

    /// Counts the call (or falls through to `out` when 33 were made), then
    /// enters the program whose entry is in t6.
    mutating func emitEnterTailCall(outermost: Bool, out: Label, _ function: JITFunctionInfo, _ e: RV64Encoder) {
        let context = RV64RegisterMap.context, scratch = RV64RegisterMap.immediate
        let target = RV64RegisterMap.callTarget
        e.ld(scratch, Int64(layout.tailCallCount), context) /* ld t2, tailCallCount(s6) */
        e.addi(.t3, .zero, Int64(TailCalls.maxCount))       /* li t3, 33 */
        e.branch(.geu, scratch, .t3, out)                   /* bgeu t2, t3, out: the run's tail calls are used up */
        e.addi(scratch, scratch, 1)                         /* addi t2, t2, 1 */
        e.sd(scratch, Int64(layout.tailCallCount), context) /* sd t2, tailCallCount(s6) */
        e.sd(RV64RegisterMap.budget, Int64(layout.budget), context) /* sd s7, budget(s6) */
        if outermost {
            e.ld(.sp, Int64(layout.exitStack), context)     /* ld sp, exitStack(s6) */
            e.mv(RV64RegisterMap.native(.r3), context)      /* mv a2, s6: the target's run context */
            emitEntryUnwind(e)
            e.jalr(.zero, 0, target)                        /* jr t6: the target returns to the host */
            return
        }
        let saved: [(Int32, Int64)] = [(layout.exitStack, 0), (layout.stackBase, 8), (layout.program, 16), (layout.stackEnd, 24)]
        e.addi(.sp, .sp, -32)                               /* addi sp, sp, -32 */
        for (field, slot) in saved {
            e.ld(scratch, Int64(field), context)            /* ld t2, field(s6) */
            e.sd(scratch, slot, .sp)                        /* sd t2, slot(sp) */
        }
        e.mv(RV64RegisterMap.native(.r3), context)          /* mv a2, s6: the target's run context */
        e.jalr(.ra, 0, target)                              /* jalr ra, 0(t6) */
        for (field, slot) in saved where field != layout.program {
            e.ld(scratch, slot, .sp)                        /* ld t2, slot(sp) */
            e.sd(scratch, Int64(field), context)            /* sd t2, field(s6) */
        }
        e.ld(.t3, 16, .sp)                                  /* ld t3, 16(sp): this program's info */
        e.addi(.sp, .sp, 32)                                /* addi sp, sp, 32 */
        e.ld(scratch, Int64(layout.status), context)        /* ld t2, status(s6) */
        e.branch(.ne, scratch, .zero, errorExitLabel)       /* bnez t2, error exit: the target failed */
        e.sd(.t3, Int64(layout.program), context)           /* sd t3, program(s6) */
        e.ld(RV64RegisterMap.budget, Int64(layout.budget), context) /* ld s7, budget(s6) */
        e.mv(RV64RegisterMap.native(.r0), .a0)              /* mv a5, a0: r0 = the target's */
        e.j(e.asm.epilogue(function.index))                 /* j epilogue */
    }
}
