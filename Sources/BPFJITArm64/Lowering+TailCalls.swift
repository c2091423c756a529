import BPFISA
import BPFJIT
import BPFRuntime

/// `bpf_tail_call(r1 = ctx, r2 = program array, r3 = index)`, indirect (the
/// issue allows arm64 indirect tail calls only), with the x86-64 backend's
/// semantics and shape (see its `lowerTailCall` and docs/ARCHITECTURE.md):
///
/// ```
///     movz/movk x10, handle_k ; cmp x1, x10 ; b.eq .array_k   ; each array the program loads
///     str x1, [x26, #dynamicHelper] ; b .notAProgramArray
/// .array_k:
///     cmp w2, #max_entries_k ; b.hs .out                      ; r3 is a u32 index
///     movz/movk x16, entries_k ; mov w11, w2 ; lsl x11, x11, #3
///     ldr x16, [x16, x11] ; cbz x16, .out                     ; the slot's entry, 0 when empty
///     ldr x10, [x26, #tailCallCount] ; cmp x10, #33 ; b.hs .out
///     add x10, x10, #1 ; str x10, [x26, #tailCallCount]
///     str x27, [x26, #budget]                                 ; the budget goes on with the target
///     mov x2, x26 ; <unwind the entry frame> ; br x16         ; from the entry function
/// .out:
/// ```
///
/// From a subprogram the target is called instead (`blr x16`) with the
/// context fields its prologue overwrites saved around the call, and the
/// subprogram returns the target's r0. A constant slot skips the array
/// search and the bounds check. Under the emulator, programs that share
/// program arrays share a machine, so the target's image is one the CPU
/// can branch into.
extension Arm64Backend {
    mutating func lowerTailCall(at pc: Int, in function: JITFunctionInfo, _ e: Arm64Encoder) {
        guard let plan = tailCalls else { return }
        let outermost = function.index == 0 && !entryIsCallTarget
        let out = e.asm.makeLabel(), target = Arm64RegisterMap.callTarget
        statistics.indirectTailCalls += 1
        emitTailCallContextCheck(at: pc, e)
        if let constant = plan.constantSites[pc] {
            guard Int(constant.index) < constant.array.maxEntries else { return } // always out of range: falls through
            loadConstant(target, constant.array.entries + 8 * UInt64(constant.index), e) /* movz/movk x16, &entries[index] */
            e.ldr(.double, target, target)                          /* ldr x16, [x16]: the slot's entry */
            e.cbz(.x, target, out)                                  /* cbz x16, out: empty slot */
        } else {
            emitFindTailCallTarget(plan.arrays, out: out, at: pc, e)
        }
        if !plan.arrays.isEmpty || plan.constantSites[pc] != nil {
            emitEnterTailCall(outermost: outermost, out: out, function, e)
        }
        e.asm.bind(out)
    }

    /// The backstop behind the verifier's rule that r1 is the program's
    /// context: `ldr x10, [x26, #entryContext]; cmp x0, x10; b.ne stop` — a
    /// tail call with any other r1 stops the run
    /// (`ExecutionError.tailCallContextMismatch`).
    mutating func emitTailCallContextCheck(at pc: Int, _ e: Arm64Encoder) {
        let scratch = Arm64RegisterMap.immediate, mismatch = e.asm.makeLabel()
        e.ldr(.double, scratch, Arm64RegisterMap.context, offset: Int(layout.entryContext)) /* ldr x10, [x26, #entryContext] */
        e.cmp(.x, Arm64RegisterMap.native(.r1), scratch)            /* cmp x0, x10 */
        e.b(.ne, mismatch)                                          /* b.ne stop: r1 is not the context */
        stubs.append(.raise(mismatch, status: JITStatus.word(JITStatus.tailCallContext, pc: pc)))
        statistics.tailCallContextChecks += 1
    }

    /// Finds the array r2 names among those the program loads, checks the
    /// index and loads the slot's entry into x16.
    mutating func emitFindTailCallTarget(_ arrays: [JITTailCallArray], out: Label, at pc: Int, _ e: Arm64Encoder) {
        let context = Arm64RegisterMap.context, scratch = Arm64RegisterMap.immediate
        let target = Arm64RegisterMap.callTarget, index = Arm64RegisterMap.scratch11
        let r2 = Arm64RegisterMap.native(.r2), r3 = Arm64RegisterMap.native(.r3)
        let labels = arrays.map { _ in e.asm.makeLabel() }
        for (array, label) in zip(arrays, labels) {
            loadConstant(scratch, array.handle, e)                  /* movz/movk x10, handle */
            e.cmp(.x, r2, scratch)                                  /* cmp x1, x10: this array? */
            e.b(.eq, label)                                         /* b.eq array_k */
        }
        let notArray = e.asm.makeLabel()
        e.str(.double, r2, context, offset: Int(layout.dynamicHelper)) /* str x1, [x26, #dynamicHelper]: for the report */
        e.b(notArray)                                               /* b not-a-program-array stub */
        stubs.append(.raise(notArray, status: JITStatus.word(JITStatus.notAProgramArray, pc: pc)))
        let found = e.asm.makeLabel()
        for (k, (array, label)) in zip(arrays, labels).enumerated() {
            e.asm.bind(label)
            compare(.w, r3, Int64(array.maxEntries), e)             /* cmp w2, #max_entries */
            e.b(.hs, out)                                           /* b.hs out */
            loadConstant(target, array.entries, e)                  /* movz/movk x16, entries */
            e.mov(.w, index, r3)                                    /* mov w11, w2: zero-extended index */
            e.lsl(.x, index, index, 3)                              /* lsl x11, x11, #3 */
            e.ldr(.double, target, target, index: index)            /* ldr x16, [x16, x11]: the slot's entry */
            e.cbz(.x, target, out)                                  /* cbz x16, out: empty slot */
            if k + 1 < arrays.count { e.b(found) }                  /* b found */
        }
        e.asm.bind(found)
    }

    /// Counts the call (or falls through to `out` when 33 were made), then
    /// enters the program whose entry is in x16.
    mutating func emitEnterTailCall(outermost: Bool, out: Label, _ function: JITFunctionInfo, _ e: Arm64Encoder) {
        let context = Arm64RegisterMap.context, scratch = Arm64RegisterMap.immediate
        let target = Arm64RegisterMap.callTarget
        e.ldr(.double, scratch, context, offset: Int(layout.tailCallCount)) /* ldr x10, [x26, #tailCallCount] */
        e.cmp(.x, scratch, ArithmeticImmediate(UInt64(TailCalls.maxCount))!) /* cmp x10, #33 */
        e.b(.hs, out)                                               /* b.hs out: the run's tail calls are used up */
        e.add(.x, scratch, scratch, ArithmeticImmediate(1)!)        /* add x10, x10, #1 */
        e.str(.double, scratch, context, offset: Int(layout.tailCallCount)) /* str x10, [x26, #tailCallCount] */
        if frame.pinned.budget {
            e.str(.double, Arm64RegisterMap.budget, context, offset: Int(layout.budget)) /* str x27, [x26, #budget] */
        }
        if outermost {
            e.mov(.x, Arm64RegisterMap.native(.r3), context)        /* mov x2, x26: the target's run context */
            emitEntryUnwind(e)
            e.br(target)                                            /* br x16: the target returns to the host */
            return
        }
        let record = Arm64RegisterMap.scratch11, info = Arm64RegisterMap.scratch12, status = Arm64RegisterMap.scratch13
        e.ldr(.double, scratch, context, offset: Int(layout.exitStack)) /* ldr x10, [x26, #exitStack] */
        e.ldr(.double, record, context, offset: Int(layout.stackBase)) /* ldr x11, [x26, #stackBase] */
        e.stp(scratch, record, .sp, offset: -32, .preIndex)         /* stp x10, x11, [sp, #-32]! */
        e.ldr(.double, scratch, context, offset: Int(layout.program)) /* ldr x10, [x26, #program] */
        e.ldr(.double, status, context, offset: Int(layout.stackEnd)) /* ldr x13, [x26, #stackEnd] */
        e.stp(scratch, status, .sp, offset: 16)                     /* stp x10, x13, [sp, #16] */
        e.mov(.x, Arm64RegisterMap.native(.r3), context)            /* mov x2, x26: the target's run context */
        e.blr(target)                                               /* blr x16 */
        e.ldp(scratch, record, .sp, offset: 0)                      /* ldp x10, x11, [sp] */
        e.str(.double, scratch, context, offset: Int(layout.exitStack)) /* str x10, [x26, #exitStack] */
        e.str(.double, record, context, offset: Int(layout.stackBase)) /* str x11, [x26, #stackBase] */
        e.ldp(info, status, .sp, offset: 16)                        /* ldp x12, x13, [sp, #16]: this program's info, stack end */
        e.str(.double, status, context, offset: Int(layout.stackEnd)) /* str x13, [x26, #stackEnd] */
        adjustSP(by: 32, e)                                         /* add sp, sp, #32 */
        e.ldr(.double, status, context, offset: Int(layout.status)) /* ldr x13, [x26, #status] */
        e.cbnz(.x, status, errorExitLabel)                          /* cbnz x13, error exit: the target failed */
        e.str(.double, info, context, offset: Int(layout.program))  /* str x12, [x26, #program] */
        if frame.pinned.budget {
            e.ldr(.double, Arm64RegisterMap.budget, context, offset: Int(layout.budget)) /* ldr x27, [x26, #budget] */
        }
        e.mov(.x, Arm64RegisterMap.native(.r0), .x(0))              /* mov x7, x0: r0 = the target's */
        e.b(e.asm.epilogue(function.index))                         /* b epilogue */
    }
}
