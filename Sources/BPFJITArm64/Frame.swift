import BPFISA
import BPFJIT

/// The native stack frame of a run (addresses grow upwards):
///
/// ```
///            |  caller's frame (the host)                   |
///            +----------------------------------------------+ <- sp on entry, 16-byte aligned
///            |  x29, x30: frame record                      |
///  x29  ---> +----------------------------------------------+
///            |  saved x19–x27 the image uses, in pairs      |    x19–x22: the r6–r9 it names;
///            |  (an odd one out paired with xzr)            |    x23, x24, x26, x27: pinned by
///            |                                              |    checks, calls, guard; x25: r10
///            +----------------------------------------------+ <- x25 = BPF r10 of frame 0 (stack top)
///            |  BPF frame 0: 512 bytes                      |
///            +----------------------------------------------+ <- r10 of frame 1 (first local call)
///            |  BPF frames 1–7: 512 bytes each              |    (only with local calls or r10 escaping)
///            +----------------------------------------------+ <- x24 = context.stackBase
///                                                              <- sp in the entry body = context.exitStack
///            |  around a helper call: the live r1–r5        |    (pushed and popped by the call site)
///            |  local call: callee's x29, x30 and the       |
///            |  r6–r9 homes it writes; and so on per depth  |
/// ```
///
/// All BPF frames live in one block carved out by the entry prologue, so the
/// BPF stack holds no return address or saved register a bad program could
/// overwrite, and the bounds checks treat it as one region, `[stackBase,
/// top)`. A local call moves x25 down by 512 and `bl`s the function, whose
/// prologue saves the frame record and only the r6–r9 homes it writes (BPF's
/// callee-saved registers). sp stays 16-byte aligned everywhere, as AAPCS64
/// requires of every access through sp. An error anywhere unwinds in one
/// step: sp = context.exitStack, then the entry epilogue.
struct Arm64Frame {
    /// BPF stack bytes reserved (8 × 512, 512, what the program's direct
    /// `[r10 + offset]` accesses reach, or 0: see `JITStackSizing`).
    let stackSize: Int
    /// Callee-saved registers the entry prologue saves for the host, in pair order.
    let entrySaves: [Arm64Register]
    /// Per function: the r6–r9 homes it writes, in pair order.
    let functionSaves: [[Arm64Register]]
    let pinned: Pinned

    /// Which pinned registers the image uses.
    struct Pinned {
        /// x26: the run context.
        var context = false
        /// x27: the guard's budget (backward jumps, local calls).
        var budget = false
        /// x23: the first input region's start (inline bounds checks).
        var inputStart = false
    }

    /// `cleared`: bit per BPF register the entry prologue clears.
    init(_ program: Program, functions: [(entry: Int, end: Int)], stackSize: Int, pinned: Pinned, cleared: UInt16) {
        self.stackSize = stackSize
        var saves: [[Arm64Register]] = []
        var union: UInt16 = 0   // bit per BPF register written by any function
        for function in functions {
            var written: UInt16 = 0
            for pc in function.entry..<function.end {
                if let register = program.instructions[pc].writesRegister { written |= 1 << register.rawValue }
            }
            union |= written
            saves.append(Arm64RegisterMap.calleeSaved.filter { written & (1 << $0.0.rawValue) != 0 }.map(\.1))
        }
        functionSaves = saves
        // The entry saves every r6–r9 home the program writes or the prologue
        // clears (a read-only one is written by the clearing).
        var entry = Arm64RegisterMap.calleeSaved.filter { (union | cleared) & (1 << $0.0.rawValue) != 0 }.map(\.1)
        if pinned.inputStart { entry.append(Arm64RegisterMap.inputStart) }
        // x24 holds the stack's bottom for checks and local calls, both of which use the context.
        if pinned.context && stackSize > 0 { entry.append(Arm64RegisterMap.stackBase) }
        if stackSize > 0 { entry.append(Arm64RegisterMap.native(.r10)) }
        if pinned.context { entry.append(Arm64RegisterMap.context) }
        if pinned.budget { entry.append(Arm64RegisterMap.budget) }
        self.pinned = pinned
        entrySaves = entry
    }
}

extension Arm64Backend {
    /// Entry function: build the frame of the picture; load the context.
    mutating func emitEntryPrologue(_ e: Arm64Encoder) {
        e.stp(.fp, .lr, .sp, offset: -16, .preIndex)       /* stp x29, x30, [sp, #-16]! */
        e.movSP(.fp, .sp)                                   /* mov x29, sp */
        push(frame.entrySaves, e)                           /* stp callee-saved the image uses */
        let r10 = Arm64RegisterMap.native(.r10), context = Arm64RegisterMap.context
        if frame.stackSize > 0 {
            e.movSP(r10, .sp)                               /* mov x25, sp: r10 = top of frame 0 */
            adjustSP(by: -frame.stackSize, e)               /* sub sp, sp, #frames: the BPF stack */
            emitStackClear(e)
        }
        if usesContext {
            let scratch = Arm64RegisterMap.immediate
            e.mov(.x, context, .x(2))                       /* mov x26, x2: run context (3rd argument) */
            e.movSP(scratch, .sp)                           /* mov x10, sp */
            e.str(.double, scratch, context, offset: Int(layout.exitStack)) /* str x10, [x26, #exitStack] */
            if frame.stackSize > 0 {
                e.movSP(Arm64RegisterMap.stackBase, .sp)    /* mov x24, sp: bottom of the BPF stack */
                e.str(.double, Arm64RegisterMap.stackBase, context, offset: Int(layout.stackBase)) /* str x24, [x26, #stackBase] */
                e.str(.double, r10, context, offset: Int(layout.stackEnd)) /* str x25, [x26, #stackEnd]: its top */
            } else {
                // No BPF stack: helpers and checks see none (not a caller's, after a tail call).
                e.str(.double, .zr, context, offset: Int(layout.stackBase)) /* str xzr, [x26, #stackBase] */
                e.str(.double, .zr, context, offset: Int(layout.stackEnd)) /* str xzr, [x26, #stackEnd] */
            }
            if frame.pinned.budget {
                e.ldr(.double, Arm64RegisterMap.budget, context, offset: Int(layout.budget))  /* ldr x27, [x26, #budget] */
            }
            if frame.pinned.inputStart {
                e.ldr(.double, Arm64RegisterMap.inputStart, context, offset: Int(layout.inputStart)) /* ldr x23, [x26, #inputStart] */
            }
            if tailCalls != nil && programInfo != 0 {
                loadConstant(scratch, programInfo, e)       /* movz/movk x10, info: this program */
                e.str(.double, scratch, context, offset: Int(layout.program)) /* str x10, [x26, #program] */
            }
        }
        for register in zeroedRegisters { e.movz(.x, register, 0) } /* mov xN, #0 */
    }

    /// Zeroes the BPF stack, so that no run reads what the host or an
    /// earlier run left (the interpreter starts from zero too): up to 64
    /// bytes a pair of words per store, more 64 bytes a turn.
    func emitStackClear(_ e: Arm64Encoder) {
        if frame.stackSize <= 64 {
            for k in stride(from: 0, to: frame.stackSize, by: 16) { e.stp(.zr, .zr, .sp, offset: k) } /* stp xzr, xzr, [sp, #k] */
            return
        }
        let cursor = Arm64RegisterMap.immediate
        e.movSP(cursor, .sp)                                /* mov x10, sp */
        let loop = e.asm.makeLabel()
        e.asm.bind(loop)
        for _ in 0..<4 { e.stp(.zr, .zr, cursor, offset: 16, .postIndex) } /* stp xzr, xzr, [x10], #16 */
        e.cmp(.x, cursor, Arm64RegisterMap.native(.r10))     /* cmp x10, x25 */
        e.b(.lo, loop)                                      /* b.lo loop */
    }

    /// Entry function: undo the prologue; sp is where the prologue left it.
    func emitEntryEpilogue(_ e: Arm64Encoder) {
        e.mov(.x, .x(0), Arm64RegisterMap.native(.r0))      /* mov x0, x7: return r0 */
        emitEntryUnwind(e)
        e.ret()                                             /* ret */
    }

    /// The entry epilogue between setting x0 and `ret`: afterwards the
    /// callee-saved registers, x29 and x30 hold the host's values and sp is
    /// as on entry (a tail call from the entry function branches to its
    /// target from here). The budget goes back to the context first, so that
    /// a program that tail-called this one from a subprogram goes on with
    /// what is left.
    func emitEntryUnwind(_ e: Arm64Encoder) {
        if frame.pinned.budget && tailCalls != nil {
            e.str(.double, Arm64RegisterMap.budget, Arm64RegisterMap.context, offset: Int(layout.budget)) /* str x27, [x26, #budget] */
        }
        if frame.stackSize > 0 { adjustSP(by: frame.stackSize, e) } /* add sp, sp, #frames */
        pop(frame.entrySaves, e)                            /* ldp callee-saved */
        e.ldp(.fp, .lr, .sp, offset: 16, .postIndex)        /* ldp x29, x30, [sp], #16 */
    }

    /// Local-call target: a frame record and the r6–r9 homes this function writes.
    func emitFunctionPrologue(_ index: Int, _ e: Arm64Encoder) {
        e.stp(.fp, .lr, .sp, offset: -16, .preIndex)       /* stp x29, x30, [sp, #-16]! */
        e.movSP(.fp, .sp)                                   /* mov x29, sp */
        push(frame.functionSaves[index], e)                 /* stp callee-saved it writes */
    }

    func emitFunctionEpilogue(_ index: Int, _ e: Arm64Encoder) {
        pop(frame.functionSaves[index], e)                  /* ldp callee-saved */
        e.ldp(.fp, .lr, .sp, offset: 16, .postIndex)        /* ldp x29, x30, [sp], #16 */
        e.ret()                                             /* ret to the caller's `add x25, x25, #512` */
    }

    /// Pushes registers in pairs (an odd one out with xzr), 16 bytes each.
    func push(_ registers: [Arm64Register], _ e: Arm64Encoder) {
        var i = 0
        while i < registers.count {
            e.stp(registers[i], i + 1 < registers.count ? registers[i + 1] : .zr, .sp, offset: -16, .preIndex) /* stp a, b, [sp, #-16]! */
            i += 2
        }
    }

    /// Pops what `push` pushed.
    func pop(_ registers: [Arm64Register], _ e: Arm64Encoder) {
        var i = (registers.count + 1) / 2 * 2 - 2
        while i >= 0 {
            e.ldp(registers[i], i + 1 < registers.count ? registers[i + 1] : .zr, .sp, offset: 16, .postIndex) /* ldp a, b, [sp], #16 */
            i -= 2
        }
    }

    /// sp += bytes (negative: subtract), in at most two immediates.
    func adjustSP(by bytes: Int, _ e: Arm64Encoder) {
        addImmediate(.x, .sp, .sp, Int64(bytes), e)
    }
}
