import BPFISA
import BPFJIT
import BPFRuntime

/// The native stack frame of a run (addresses grow upwards):
///
/// ```
///            |  return address into the host     |
///            |  saved rbp (host's)               |
///  rbp  ---> +-----------------------------------+ <- BPF r10 of frame 0 (stack top)
///            |  BPF frame 0: 512 bytes, or its   |
///            |  own size (per-function frames)   |
///            +-----------------------------------+ <- r10 of frame 1 (first local call)
///            |  BPF frames 1..7: 512 bytes each, |    (only with local calls)
///            |  or each callee's own size        |
///            +-----------------------------------+ <- context.stackBase
///            |  saved rbx, r13, r14, r15         |    only those any function writes
///            |  saved r12                        |    when the run context is used
///            |  8 bytes of alignment, if needed  | <- rsp at exits = context.exitStack
///            +-----------------------------------+
///            |  local call: return address,      |
///            |  the callee's saved rbx/r13–r15,  |
///            |  alignment; and so on per depth   |
/// ```
///
/// All BPF frames live in one block carved out by the entry prologue, so the
/// BPF stack holds no return address or saved register a bad program could
/// overwrite: the bounds checks treat it as one region, `[stackBase, top)`.
/// A local call moves rbp down by its caller's frame and calls the
/// function, whose prologue saves only the r6–r9 homes it writes (BPF's
/// callee-saved registers). The frames (`JITFramePlan`) are the fixed
/// scheme's eight of 512 bytes, each call checking at run time that one
/// more fits unless the call graph is bounded (acyclic, at most eight
/// frames deep); or, when it is bounded and no run can tell, per-function
/// frames (0 bytes for a function that never names r10, else what it
/// reaches), the block being the deepest chain's sum. The block is zeroed
/// at entry unless no read can see an unwritten byte. rsp is 16-byte
/// aligned in every function body, as the SysV ABI wants at calls into the
/// host. An error anywhere unwinds in one step:
/// rsp = context.exitStack, rbp = rsp + `entryFrameBytes`, then the entry
/// epilogue.
///
/// Tail calls. The kernel keeps the tail-call counter in a slot of this
/// frame (seed 002's `push rax`), passes it on in rax, and since its "tail
/// call hierarchy" fix hands every frame a pointer to the entry frame's slot.
/// Here every frame of every program a run enters already reaches one block
/// per run, the run context (r12), so the counter lives there
/// (`JITRunContext.tailCallCount`) and the frame has no slot for it. A tail
/// call from the entry function unwinds this whole frame (callee-saved
/// registers popped, `leave`) and jumps to the target's entry with the
/// context in rdx, exactly as the host calls a program: the target builds its
/// own frame of its own size in the same place and returns to the host. From
/// a subprogram (or from an entry function that is also a call target) the
/// target is called instead and the subprogram returns its r0 (see
/// `lowerTailCall`).
struct FrameLayout {
    /// BPF stack bytes reserved (8 × 512, 512, what the program's direct
    /// `[r10 + offset]` accesses reach or the proven depth, the deepest
    /// chain of per-function frames, or 0: see `JITFramePlan`).
    let stackSize: Int
    /// Registers the entry prologue saves for the host, in push order.
    let entrySaves: [GPR]
    /// Whether the entry pads rsp by 8 to keep it 16-byte aligned.
    let entryPad: Bool
    /// Per function: the r6–r9 homes it writes, in push order, and whether it pads.
    let functionSaves: [[GPR]]
    let functionPads: [Bool]

    /// Bytes from rsp after the entry prologue up to rbp (frame 0's r10):
    /// how the error exit finds rbp again from any depth.
    var entryFrameBytes: Int { stackSize + 8 * entrySaves.count + (entryPad ? 8 : 0) }

    /// Whether the entry builds a frame on rbp (`push rbp; mov rbp, rsp …
    /// leave`): only for a BPF stack. A program that never names r10 leaves
    /// rbp alone, like any leaf function.
    var hasFramePointer: Bool { stackSize > 0 }
}

extension X86_64Backend {
    /// `zeroedAtEntry`: bit per BPF register the entry prologue clears; the
    /// callee-saved homes among them are host registers too, so the entry
    /// saves them even when no instruction writes them (a program that only
    /// reads r6 still gets a zeroed rbx, and the host gets its rbx back).
    static func frameLayout(_ program: Program, functions: [(entry: Int, end: Int)], stackSize: Int,
                            usesContext: Bool, makesCalls: Bool, zeroedAtEntry: UInt16,
                            slotRegisters: [GPR] = []) -> FrameLayout {
        var saves: [[GPR]] = []
        var union: UInt16 = 0   // bit per BPF register written by any function
        for function in functions {
            var written: UInt16 = 0
            for pc in function.entry..<function.end {
                if let register = program.instructions[pc].writesRegister { written |= 1 << register.rawValue }
            }
            union |= written
            saves.append(RegisterMap.calleeSaved.filter { written & (1 << $0.0.rawValue) != 0 }.map(\.1))
        }
        var entry = RegisterMap.calleeSaved.filter { (union | zeroedAtEntry) & (1 << $0.0.rawValue) != 0 }.map(\.1)
        if usesContext { entry.append(RegisterMap.context) }
        entry += slotRegisters  // callee-saved homes of promoted stack slots (`X86SlotPromotion`)
        // Entry: rsp ≡ 8 (mod 16) on arrival; push rbp and the BPF frames
        // (multiples of 16) make it ≡ 0, the saves ≡ 8 × saves. Without a
        // BPF stack there is no push rbp.
        let entryPad = makesCalls && entry.count % 2 == (stackSize > 0 ? 1 : 0)
        // A local call arrives with rsp ≡ 8; its saves add 8 each.
        let pads = saves.map { makesCalls && $0.count % 2 == 0 }
        return FrameLayout(stackSize: stackSize, entrySaves: entry, entryPad: entryPad,
                           functionSaves: saves, functionPads: pads)
    }

    /// Entry function: build the frame of the picture; load the context.
    mutating func emitEntryPrologue(_ e: X86Encoder) {
        if frame.hasFramePointer {
            e.push(.rbp)                                    /* push rbp */
            e.mov(.qword, .rbp, .rsp)                       /* mov rbp, rsp: r10 = top of frame 0 */
            e.arith(.sub, .qword, .rsp, imm: Int32(frame.stackSize)) /* sub rsp, frames: the BPF stack */
            if framePlan.clearsStack { emitStackClear(e) }
        }
        for register in frame.entrySaves { e.push(register) } /* push callee-saved the program clobbers */
        if frame.entryPad { e.arith(.sub, .qword, .rsp, imm: 8) } /* sub rsp, 8: 16-byte alignment */
        if usesContext {
            e.mov(.qword, RegisterMap.context, .rdx)        /* mov r12, rdx: run context (3rd argument) */
            e.store(.qword, Memory(RegisterMap.context, layout.exitStack), .rsp) /* mov [r12+exitStack], rsp */
            if frame.stackSize > 0 {
                e.lea(.r11, Memory(.rbp, -Int32(frame.stackSize))) /* lea r11, [rbp - frames] */
                e.store(.qword, Memory(RegisterMap.context, layout.stackBase), .r11) /* mov [r12+stackBase], r11 */
                e.store(.qword, Memory(RegisterMap.context, layout.stackEnd), .rbp) /* mov [r12+stackEnd], rbp: for native helpers */
            } else {
                e.store(.qword, Memory(RegisterMap.context, layout.stackEnd), imm: 0) /* mov qword [r12+stackEnd], 0: no stack */
            }
            if programInfo != 0 {
                e.movabs(.r10, imm: programInfo)            /* movabs r10, info: this program */
                e.store(.qword, Memory(RegisterMap.context, layout.program), .r10) /* mov [r12+program], r10 */
            }
        }
        for register in zeroedRegisters { e.arith(.xor, .dword, register, register) } /* xor reg32, reg32 */
        if framePlan.clearsStack {                          // else no read sees an unwritten slot
            for register in promotion.registers { e.arith(.xor, .dword, register, register) } /* xor slot register: the cleared slot */
        }
    }

    /// Zeroes the BPF stack, so that no run reads what the host or an
    /// earlier run left (the interpreter starts from zero too): up to 64
    /// bytes with a store per word, more with `rep stosq` from rsp (just
    /// below the stack), which leaves r0 (rax) and r4 (rcx) zero as the
    /// entry wants them (`zeroedRegisters` leaves them out then).
    mutating func emitStackClear(_ e: X86Encoder) {
        statistics.clearedStackBytes = frame.stackSize
        if frame.stackSize <= 64 {
            e.arith(.xor, .dword, .r11, .r11)               /* xor r11d, r11d */
            for k in stride(from: 8, through: frame.stackSize, by: 8) {
                e.store(.qword, Memory(.rbp, -Int32(k)), .r11) /* mov [rbp - k], r11 */
            }
            return
        }
        e.push(.rdi)                                        /* push rdi: keep r1 */
        e.lea(.rdi, Memory(.rsp, 8))                        /* lea rdi, [rsp + 8]: the stack's lowest byte */
        let words = frame.stackSize / 8
        if words <= Int(Int8.max) {
            e.push(imm: Int8(words))                        /* push words */
            e.pop(.rcx)                                     /* pop rcx: count */
        } else {
            e.mov32(.rcx, imm: UInt32(words))               /* mov ecx, words */
        }
        e.arith(.xor, .dword, .rax, .rax)                   /* xor eax, eax */
        e.repStosq()                                        /* rep stosq: zero the words */
        e.pop(.rdi)                                         /* pop rdi */
    }

    /// Whether the stack clear leaves rax and rcx zero (`rep stosq`).
    static func stackClearZeroes(_ plan: JITFramePlan) -> Bool { plan.clearsStack && plan.stackSize > 64 }

    /// Entry function: undo the prologue; rsp is where the prologue left it.
    func emitEntryEpilogue(_ e: X86Encoder) {
        emitEntryUnwind(e)
        e.ret()                                             /* ret: r0 is in rax */
    }

    /// The entry epilogue up to its `ret`: afterwards the callee-saved
    /// registers hold the host's values and rsp points at the return address
    /// into the host, as on entry (a tail call from the entry function jumps
    /// to its target from here).
    func emitEntryUnwind(_ e: X86Encoder) {
        if frame.entryPad { e.arith(.add, .qword, .rsp, imm: 8) } /* add rsp, 8 */
        for register in frame.entrySaves.reversed() { e.pop(register) } /* pop callee-saved */
        if frame.hasFramePointer { e.leave() }              /* leave: rsp = rbp; pop rbp (drops the frames) */
    }

    /// Local-call target: save the r6–r9 homes this function writes.
    func emitFunctionPrologue(_ index: Int, _ e: X86Encoder) {
        for register in frame.functionSaves[index] { e.push(register) } /* push callee-saved it writes */
        if frame.functionPads[index] { e.arith(.sub, .qword, .rsp, imm: 8) } /* sub rsp, 8: alignment */
    }

    func emitFunctionEpilogue(_ index: Int, _ e: X86Encoder) {
        if frame.functionPads[index] { e.arith(.add, .qword, .rsp, imm: 8) } /* add rsp, 8 */
        for register in frame.functionSaves[index].reversed() { e.pop(register) } /* pop callee-saved */
        e.ret()                                             /* ret to the caller's `add rbp, frame` */
    }
}
