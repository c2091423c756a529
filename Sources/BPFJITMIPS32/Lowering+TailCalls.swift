import BPFISA
import BPFJIT
import BPFRuntime

/// `bpf_tail_call(r1 = ctx, r2 = program array, r3 = index)`, indirect,
/// with the other backends' semantics: at most 33 per run (the count lives
/// in the run context, shared by every program the run enters), an empty
/// slot or an index out of range falls through with r0–r5 unchanged, and r2
/// naming no program array the program loads stops the run.
///
/// Each run writes the guest address of every array's table of entries
/// (this engine's column) into the context block at `tableWords`; the code
/// reads the word of the array by its position in the environment. The
/// context is host memory in the host's byte order, so a big-endian target
/// byte-swaps what it reads and writes there. From function 0 the whole
/// frame goes and the target is entered (`jr t9`) as the host entered this
/// program, its context argument still at the host's [sp+16]; from a
/// subprogram the target is called like the host would call it, with the
/// context fields its entry overwrites saved around the call, and the
/// subprogram returns the target's r0.
public enum MIPS32TailCalls {
    /// Offset in the run's context block of the table addresses (one word each).
    public static let tableWords = 2048
    /// Arrays a run can address: the rest of the context page.
    public static let maxArrays = 512
}

extension MIPS32Backend {
    /// Loads a 32-bit field of the host-order run context.
    func loadHostWord(_ target: MIPS32Register, at offset: Int, context: MIPS32Register, _ e: MIPS32Encoder) {
        e.lw(target, Int16(offset), context)                    /* lw target, offset(context) */
        if bigEndian {
            e.wsbh(target, target)                              /* wsbh target, target */
            e.rotr(target, target, 16)                          /* rotr target, target, 16 */
        }
    }

    mutating func lowerTailCall(at pc: Int, in function: JITFunctionInfo, _ e: MIPS32Encoder) {
        guard let plan = tailCalls else { return }
        let words = MIPS32RegisterMap.runWords, context = Int16(MIPS32RegisterMap.contextWord)
        let r2 = pair(.r2), index = pair(.r3).lo
        let out = e.asm.makeLabel(), found = e.asm.makeLabel()
        statistics.indirectTailCalls += 1
        emitTailCallContextCheck(at: pc, e)
        let labels = plan.arrays.map { _ in e.asm.makeLabel() }
        for (array, label) in zip(plan.arrays, labels) {
            e.load(.t8, UInt32(truncatingIfNeeded: array.handle))          /* t8 = handle low */
            e.load(.t9, UInt32(truncatingIfNeeded: array.handle >> 32))    /* t9 = handle high */
            e.xor(.t6, r2.lo, .t8)                                          /* xor t6, r2.lo, t8 */
            e.xor(.t7, r2.hi, .t9)                                          /* xor t7, r2.hi, t9 */
            e.or(.t6, .t6, .t7)                                             /* or t6, t6, t7 */
            e.branch(label, eq: true, .t6, .zero)                           /* beq t6, zero, array_k */
        }
        e.lw(.t9, context, words)                                           /* lw t9, 0(gp) */
        storeHostWord(r2.lo, at: Int(layout.dynamicHelper), context: .t9, e)     /* dynamicHelper = r2 */
        storeHostWord(r2.hi, at: Int(layout.dynamicHelper) + 4, context: .t9, e)
        raise(JITStatus.notAProgramArray, pc: pc, e)
        for (array, label) in zip(plan.arrays, labels) {
            e.asm.bind(label)
            e.load(.t8, UInt32(clamping: array.maxEntries))                 /* t8 = max entries */
            e.sltu(.t6, index, .t8)                                         /* sltu t6, index, t8 */
            e.branch(out, eq: true, .t6, .zero)                             /* beq t6, zero, out */
            e.lw(.t7, context, words)                                       /* lw t7, 0(gp) */
            loadHostWord(.t6, at: MIPS32TailCalls.tableWords + 4 * (tableIndex[array.handle] ?? 0), context: .t7, e) /* table_k */
            e.sll(.t8, index, 3)                                            /* sll t8, index, 3 */
            e.addu(.t6, .t6, .t8)                                           /* addu t6, t6, t8 */
            loadHostWord(.t9, at: 0, context: .t6, e)                       /* t9 = the slot's entry */
            e.branch(out, eq: true, .t9, .zero)                             /* beq t9, zero, out: empty */
            e.b(found)                                                      /* b found */
        }
        e.asm.bind(found)
        e.lw(.t7, context, words)                                           /* lw t7, 0(gp) */
        loadHostWord(.t6, at: Int(layout.tailCallCount), context: .t7, e)   /* t6 = tail calls so far */
        e.sltiu(.t8, .t6, Int16(TailCalls.maxCount))                        /* sltiu t8, t6, 33 */
        e.branch(out, eq: true, .t8, .zero)                                 /* beq t8, zero, out: used up */
        e.addiu(.t6, .t6, 1)                                                /* addiu t6, t6, 1 */
        storeHostWord(.t6, at: Int(layout.tailCallCount), context: .t7, e)
        if function.isEntry {
            // Unwind to the host's frame and enter the target as the host entered this program.
            e.move(.sp, words)                                              /* move sp, gp */
            for (k, register) in Self.calleeSaved.enumerated() { e.lw(register, Int16(20 + 4 * k), .sp) } /* lw s<k> */
            e.lw(.ra, 60, .sp)                                              /* lw ra, 60(sp) */
            e.lw(.fp, 56, .sp)                                              /* lw fp, 56(sp) */
            e.lw(.gp, 52, .sp)                                              /* lw gp, 52(sp) */
            e.addiu(.sp, .sp, Int16(Self.entryFrame))                       /* addiu sp, sp, 64 */
            e.jr(.t9)                                                       /* jr t9: enter the target */
        } else {
            let fields = [Int(layout.stackBase), Int(layout.stackEnd), Int(layout.program), Int(layout.program) + 4]
            e.addiu(.sp, .sp, -40)                                          /* addiu sp, sp, -40 */
            for (k, offset) in fields.enumerated() {
                e.lw(.t6, Int16(offset), .t7)                               /* lw t6, field(t7) */
                e.sw(.t6, Int16(24 + 4 * k), .sp)                           /* sw t6, 24+4k(sp) */
            }
            e.sw(.t7, bigEndian ? 20 : 16, .sp)                             /* [sp+16] = context (low word) */
            e.sw(.zero, bigEndian ? 16 : 20, .sp)                           /* high word */
            e.jalr(.t9)                                                     /* jalr t9: r1, r2 in a0–a3 */
            e.lw(.t7, context, words)                                       /* lw t7, 0(gp) */
            for (k, offset) in fields.prefix(2).enumerated() {
                e.lw(.t6, Int16(24 + 4 * k), .sp)                           /* lw t6, 24+4k(sp) */
                e.sw(.t6, Int16(offset), .t7)                               /* sw t6, field(t7) */
            }
            e.lw(.t8, 32, .sp)                                              /* lw t8, 32(sp): the caller's info */
            e.lw(.t9, 36, .sp)                                              /* lw t9, 36(sp) */
            e.addiu(.sp, .sp, 40)                                           /* addiu sp, sp, 40 */
            // A target that stopped the run keeps its own info in the context,
            // so the error is told in the target's numbering (its blinding).
            e.lw(.t6, Int16(layout.status), .t7)                            /* lw t6, status(t7) */
            e.branch(errorExitLabel, eq: false, .t6, .zero)                 /* bne t6, zero, exit */
            e.lw(.t6, Int16(layout.status) + 4, .t7)                        /* lw t6, status+4(t7) */
            e.branch(errorExitLabel, eq: false, .t6, .zero)                 /* bne t6, zero, exit */
            e.sw(.t8, Int16(fields[2]), .t7)                                /* sw t8, program(t7) */
            e.sw(.t9, Int16(fields[3]), .t7)                                /* sw t9, program+4(t7) */
            e.b(e.asm.epilogue(function.index))                             /* b epilogue: return its r0 */
        }
        e.asm.bind(out)
    }

    /// The backstop behind the verifier's rule that r1 is the program's
    /// context, as on the other backends: a tail call whose r1 is not the
    /// run's entry context (`JITRunContext.entryContext`, the guest value
    /// the run passed, host-order words) stops the run
    /// (`ExecutionError.tailCallContextMismatch`).
    ///
    /// ```
    ///     lw t7, 0(gp) ; t8:t9 = context.entryContext
    ///     xor t6, r1.lo, t8 ; xor t8, r1.hi, t9 ; or t6, t6, t8
    ///     beq t6, zero, ok ; raise(tailCallContext)
    /// ok:
    /// ```
    mutating func emitTailCallContextCheck(at pc: Int, _ e: MIPS32Encoder) {
        let words = MIPS32RegisterMap.runWords, context = Int16(MIPS32RegisterMap.contextWord)
        let r1 = pair(.r1), ok = e.asm.makeLabel()
        e.lw(.t7, context, words)                                           /* lw t7, 0(gp) */
        loadHostWord(.t8, at: Int(layout.entryContext), context: .t7, e)    /* t8 = entryContext low */
        loadHostWord(.t9, at: Int(layout.entryContext) + 4, context: .t7, e) /* t9 = entryContext high */
        e.xor(.t6, r1.lo, .t8)                                              /* xor t6, r1.lo, t8 */
        e.xor(.t8, r1.hi, .t9)                                              /* xor t8, r1.hi, t9 */
        e.or(.t6, .t6, .t8)                                                 /* or t6, t6, t8 */
        e.branch(ok, eq: true, .t6, .zero)                                  /* beq t6, zero, ok */
        raise(JITStatus.tailCallContext, pc: pc, e)                         /* r1 is not the context */
        e.asm.bind(ok)
        statistics.tailCallContextChecks += 1
    }
}
