import BPFISA
import BPFJIT
import BPFRuntime

/// `bpf_tail_call(r1 = ctx, r2 = program array, r3 = index)`, indirect,
/// with the other backends' semantics: at most 33 per run (the count lives
/// in the run context, shared by every program the run enters), an empty
/// slot or an index out of range falls through, and r2 naming no program
/// array the program loads stops the run.
///
/// ```
///     ldrd r0, r1, [r11, #r2] ; cmp r1, #hi_k ; cmpeq r0, #lo_k ; beq .array_k   (each array)
///     <store r2 in context.dynamicHelper> ; raise notAProgramArray
/// .array_k:
///     ldr r12, [r11, #r3] ; cmp r12, #max_entries ; bhs .out
///     ldr r0, [context, #table_k] ; add r0, r0, r12, lsl #3 ; ldr lr, [r0] ; cmp lr, #0 ; beq .out
///     ldr r1, [context, #tailCallCount] ; cmp r1, #33 ; bhs .out ; add ; str
///     ldrd r0, r1, [r11, #r1] ; add sp, r11, #80 ; pop {r4-r12, lr} ; bx r3   (from function 0)
/// .out:
/// ```
///
/// Where the tables are: each run writes the guest address of every
/// array's table of entries (this engine's column) into the context block
/// at `Arm32TailCalls.tableWords`; the code reads the word of the array by
/// its position in the environment. From function 0 the whole frame goes and
/// the target is entered as the host entered this program (its context
/// argument is still at [sp]); from a subprogram the target is called like
/// the host would call it, and the subprogram returns its r0.
public enum Arm32TailCalls {
    /// Offset in the run's context block of the table addresses (one word each).
    public static let tableWords = 2048
    /// Arrays a run can address: the rest of the context page.
    public static let maxArrays = 512
}

extension Arm32Backend {
    mutating func lowerTailCall(at pc: Int, in function: JITFunctionInfo, _ e: Arm32Encoder) {
        guard let plan = tailCalls else { return }
        let slots = Arm32RegisterMap.slots
        let out = e.asm.makeLabel(), found = e.asm.makeLabel()
        statistics.indirectTailCalls += 1
        emitTailCallContextCheck(at: pc, e)
        e.access(.ldrd, .r0, slots, offset: Arm32RegisterMap.slot(.r2))   /* ldrd r0, r1, [r11, #r2] */
        let labels = plan.arrays.map { _ in e.asm.makeLabel() }
        for (array, label) in zip(plan.arrays, labels) {
            e.load(.r2, UInt32(truncatingIfNeeded: array.handle))          /* r2 = handle low */
            e.load(.r3, UInt32(truncatingIfNeeded: array.handle >> 32))    /* r3 = handle high */
            e.cmp(.r1, .register(.r3))                                     /* cmp r1, r3 */
            e.cmp(.r0, .register(.r2), cond: .eq)                          /* cmpeq r0, r2 */
            e.b(label, cond: .eq)                                          /* beq array_k */
        }
        e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.contextSlot) /* ldr r12, [r11, #56] */
        e.access(.str, .r0, .r12, offset: Int(layout.dynamicHelper))      /* str r0, [r12, #dynamicHelper] */
        e.access(.str, .r1, .r12, offset: Int(layout.dynamicHelper) + 4)  /* str r1, [r12, #dynamicHelper + 4] */
        raise(JITStatus.notAProgramArray, pc: pc, e)
        for (array, label) in zip(plan.arrays, labels) {
            e.asm.bind(label)
            e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.slot(.r3))   /* ldr r12, [r11, #r3]: a u32 index */
            e.load(.r2, UInt32(clamping: array.maxEntries))                 /* r2 = max entries */
            e.cmp(.r12, .register(.r2))                                     /* cmp r12, r2 */
            e.b(out, cond: .hs)                                             /* bhs out */
            e.access(.ldr, .r0, slots, offset: Arm32RegisterMap.contextSlot) /* ldr r0, [r11, #56] */
            let word = Arm32TailCalls.tableWords + 4 * (tableIndex[array.handle] ?? 0)
            e.access(.ldr, .r0, .r0, offset: word)                          /* ldr r0, [r0, #table_k] */
            e.dp(.add, .r0, .r0, .register(.r12, .lsl, 3))                  /* add r0, r0, r12, lsl #3 */
            e.access(.ldr, .lr, .r0)                                        /* ldr lr, [r0]: the slot's entry */
            e.cmp(.lr, .immediate(Self.zero))                               /* cmp lr, #0 */
            e.b(out, cond: .eq)                                             /* beq out: empty slot */
            e.b(found)                                                      /* b found */
        }
        e.asm.bind(found)
        e.access(.ldr, .r0, slots, offset: Arm32RegisterMap.contextSlot)    /* ldr r0, [r11, #56] */
        e.access(.ldr, .r1, .r0, offset: Int(layout.tailCallCount))         /* ldr r1, [r0, #tailCallCount] */
        e.cmp(.r1, .immediate(Arm32Immediate(UInt32(TailCalls.maxCount))!)) /* cmp r1, #33 */
        e.b(out, cond: .hs)                                                 /* bhs out: the run's tail calls are used up */
        e.dp(.add, .r1, .r1, .immediate(Arm32Immediate(1)!))               /* add r1, r1, #1 */
        e.access(.str, .r1, .r0, offset: Int(layout.tailCallCount))         /* str r1, [r0, #tailCallCount] */
        if function.isEntry {
            e.mov(.r3, .lr)                                                 /* mov r3, lr: the target */
            e.access(.ldrd, .r0, slots, offset: Arm32RegisterMap.slot(.r1)) /* ldrd r0, r1, [r11, #r1]: ctx */
            e.load(.r2, 0)                                                  /* mov r2, #0 */
            e.dp(.add, .sp, slots, .immediate(Arm32Immediate(UInt32(Arm32RegisterMap.slotBytes))!)) /* add sp, r11, #80 */
            e.pop(Self.entrySaves)                                          /* pop {r4-r12, lr}: the host's */
            e.bx(.r3)                                                       /* bx r3: enter the target */
        } else {
            // The fields the target's prologue overwrites, kept across the call.
            e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.contextSlot)  /* ldr r12, [r11, #56] */
            e.access(.ldr, .r2, .r12, offset: Int(layout.stackBase))           /* ldr r2, [r12, #stackBase] */
            e.access(.ldr, .r3, .r12, offset: Int(layout.stackEnd))            /* ldr r3, [r12, #stackEnd] */
            e.access(.ldr, .r0, .r12, offset: Int(layout.program))             /* ldr r0, [r12, #program] */
            e.access(.ldr, .r1, .r12, offset: Int(layout.program) + 4)         /* ldr r1, [r12, #program + 4] */
            e.push([.r0, .r1, .r2, .r3, .r12, .lr])                            /* push {r0-r3, r12, lr} */
            e.load(.r0, 0)                                                     /* mov r0, #0 */
            e.push([.r0, .r12])                                                /* push {r0, r12}: [sp] = context */
            e.access(.str, .r0, .sp, offset: 4)                                /* str r0, [sp, #4]: high word 0 */
            e.access(.str, .r12, .sp, offset: 0)                               /* str r12, [sp] */
            e.access(.ldrd, .r0, slots, offset: Arm32RegisterMap.slot(.r1))    /* ldrd r0, r1, [r11, #r1]: ctx */
            e.load(.r2, 0)                                                     /* mov r2, #0 */
            e.load(.r3, 0)                                                     /* mov r3, #0 */
            e.access(.ldr, .r12, .sp, offset: 28)                              /* ldr r12, [sp, #28]: the target */
            e.blx(.r12)                                                        /* blx r12 */
            e.dp(.add, .sp, .sp, .immediate(Arm32Immediate(8)!))               /* add sp, sp, #8 */
            e.access(.strd, .r0, slots, offset: Arm32RegisterMap.slot(.r0))    /* strd r0, r1, [r11]: its r0 */
            e.pop([.r0, .r1, .r2, .r3, .r12, .lr])                             /* pop {r0-r3, r12, lr} */
            e.access(.str, .r2, .r12, offset: Int(layout.stackBase))           /* str r2, [r12, #stackBase] */
            e.access(.str, .r3, .r12, offset: Int(layout.stackEnd))            /* str r3, [r12, #stackEnd] */
            // A target that stopped the run keeps its own info in the context,
            // so the error is told in the target's numbering (its blinding).
            e.access(.ldr, .r2, .r12, offset: Int(layout.status))              /* ldr r2, [r12, #status] */
            e.cmp(.r2, .immediate(Self.zero))                                  /* cmp r2, #0 */
            e.b(errorExitLabel, cond: .ne)                                     /* bne exit: the target stopped the run */
            e.access(.str, .r0, .r12, offset: Int(layout.program))             /* str r0, [r12, #program] */
            e.access(.str, .r1, .r12, offset: Int(layout.program) + 4)         /* str r1, [r12, #program + 4] */
            e.b(e.asm.epilogue(function.index))                                /* b epilogue: return its r0 */
        }
        e.asm.bind(out)
    }

    /// The backstop behind the verifier's rule that r1 is the program's
    /// context, as on the other backends: a tail call whose r1 is not the
    /// run's entry context (`JITRunContext.entryContext`, the guest value
    /// the run passed) stops the run (`ExecutionError.tailCallContextMismatch`).
    ///
    /// ```
    ///     ldr r12, [r11, #56] ; ldrd r0, r1, [r11, #r1]
    ///     ldr r2, [r12, #entryContext] ; ldr r3, [r12, #entryContext + 4]
    ///     cmp r1, r3 ; cmpeq r0, r2 ; bne raise(tailCallContext)
    /// ```
    mutating func emitTailCallContextCheck(at pc: Int, _ e: Arm32Encoder) {
        let slots = Arm32RegisterMap.slots
        e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.contextSlot)  /* ldr r12, [r11, #56] */
        e.access(.ldrd, .r0, slots, offset: Arm32RegisterMap.slot(.r1))    /* ldrd r0, r1, [r11, #r1] */
        e.access(.ldr, .r2, .r12, offset: Int(layout.entryContext))        /* ldr r2, [r12, #entryContext] */
        e.access(.ldr, .r3, .r12, offset: Int(layout.entryContext) + 4)    /* ldr r3, [r12, #entryContext + 4] */
        e.cmp(.r1, .register(.r3))                                         /* cmp r1, r3 */
        e.cmp(.r0, .register(.r2), cond: .eq)                              /* cmpeq r0, r2 */
        raise(JITStatus.tailCallContext, pc: pc, e, cond: .ne)             /* bne raise: r1 is not the context */
        statistics.tailCallContextChecks += 1
    }
}
