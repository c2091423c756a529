import BPFISA
import BPFJIT
import BPFRuntime

/// `bpf_tail_call(r1 = ctx, r2 = program array, r3 = index)`.
///
/// A tail call falls through (r0–r5 unchanged) when the index is out of
/// range, the run has made its 33 tail calls, or the slot is empty; the
/// count (`JITRunContext.tailCallCount`, one per run) grows only when a
/// program is entered. The target is entered through its ordinary entry,
/// with rdi = r1, rsi = r2 and rdx = the run context, and builds its own
/// frame of its own size:
///
/// - From the entry function the caller's frame is unwound first (the entry
///   epilogue without its `ret`) and the target is jumped to: it returns
///   straight to the host, as if the host had called it.
/// - From a subprogram (or an entry function that is also a call target) the
///   target is called, with the context fields its prologue overwrites
///   (exitStack, stackBase, stackEnd, program) saved around the call, and the
///   subprogram then returns the target's r0 to its own caller: the
///   subprogram's frame is replaced, as the kernel specifies, at the cost of
///   a few words of native stack while the target runs. An error inside the
///   target unwinds the target to here; the call site sees the status and
///   unwinds its own program in turn.
///
/// Indirect (any r2 and r3):
///
/// ```
///     movabs r10, handle_k ; cmp rsi, r10 ; je .array_k   ; each array the program loads
///     mov [r12+dynamicHelper], rsi ; jmp .notAProgramArray
/// .array_k:
///     cmp edx, max_entries_k ; jae .out
///     movabs r10, entries_k ; mov r11d, edx ; shl r11, 3 ; add r10, r11
///     mov r10, [r10] ; test r10, r10 ; je .out            ; the slot's entry, 0 when empty
///     cmp qword [r12+tailCallCount], 33 ; jae .out
///     add qword [r12+tailCallCount], 1
///     mov rdx, r12 ; <unwind the entry frame> ; jmp r10   ; or: save, call r10, restore, return
/// .out:
/// ```
///
/// Direct (r2 and r3 constants, `JITTailCallPlan.constantSites`), seed 002's
/// arrangement, each patched instruction alone in an aligned 8-byte word:
///
/// ```
///     jmp .fallback        ; bypass: a 5-byte no-op while the slot's program is patched in
///     cmp qword [r12+tailCallCount], 33 ; jae .out
///     add qword [r12+tailCallCount], 1
///     mov rdx, r12 ; <unwind the entry frame>              ; or: save the context fields
///     nop5                 ; target: jmp <entry> (or call <entry>, then restore and return)
/// .fallback:
///     <the indirect sequence for this constant slot>
/// .out:
/// ```
extension X86_64Backend {
    mutating func lowerTailCall(at pc: Int, in function: JITFunctionInfo, _ e: X86Encoder) {
        guard let plan = tailCalls else { return }
        let outermost = function.index == 0 && !entryIsCallTarget
        let out = e.asm.makeLabel()
        emitTailCallContextCheck(at: pc, e)
        if let constant = plan.constantSites[pc] {
            guard Int(constant.index) < constant.array.maxEntries else { return } // always out of range: falls through
            statistics.directTailCalls += 1
            let fallback = e.asm.makeLabel()
            alignPatchSite(e)
            let bypassOffset = e.code.count
            e.jmpRel32(fallback)                            /* jmp fallback: bypass, patched to nop5 */
            emitCountTailCall(out: out, e)
            let targetOffset: Int
            if outermost {
                e.mov(.qword, .rdx, RegisterMap.context)    /* mov rdx, r12: the target's run context */
                emitEntryUnwind(e)
                alignPatchSite(e)
                targetOffset = e.code.count
                e.nop(5)                                    /* nop5: patched to jmp <target entry> */
            } else {
                emitSaveForTailCall(e)
                alignPatchSite(e)
                targetOffset = e.code.count
                e.nop(5)                                    /* nop5: patched to call <target entry> */
                emitReturnFromTailCall(function, e)
            }
            e.asm.bind(fallback)
            let displacement = Int32(e.code.count - (bypassOffset + 5))
            let bypass: [UInt8] = [0xe9] + withUnsafeBytes(of: displacement.littleEndian) { Array($0) }
            tailCallSites.append(JITTailCallSite(pc: pc, arrayHandle: constant.array.handle, index: Int(constant.index),
                                                 kind: outermost ? .jump : .call, bypassOffset: bypassOffset,
                                                 bypassBytes: bypass, targetOffset: targetOffset))
            e.movabs(.r10, imm: constant.array.entries + 8 * UInt64(constant.index)) /* movabs r10, &entries[index] */
            e.load(.qword, .r10, Memory(.r10))              /* mov r10, [r10]: the slot's entry */
            e.test(.qword, .r10, .r10)                      /* test r10, r10 */
            e.j(.e, out)                                    /* je out: empty slot */
            emitEnterTailCall(outermost: outermost, out: out, function, e)
        } else {
            statistics.indirectTailCalls += 1
            emitIndirectTailCall(plan.arrays, outermost: outermost, out: out, at: pc, function, e)
        }
        e.asm.bind(out)
    }

    /// The backstop behind the verifier's rule that r1 is the program's
    /// context: `cmp rdi, [r12+entryContext]; jne stop` — a tail call with
    /// any other r1 stops the run (`ExecutionError.tailCallContextMismatch`),
    /// so a target's proofs about its context never meet a made-up one.
    mutating func emitTailCallContextCheck(at pc: Int, _ e: X86Encoder) {
        let mismatch = e.asm.makeLabel()
        e.arith(.cmp, .qword, .rdi, Memory(RegisterMap.context, layout.entryContext)) /* cmp rdi, [r12+entryContext] */
        e.j(.ne, mismatch)                                  /* jne stop: r1 is not the context */
        stubs.append(.raise(mismatch, status: JITStatus.word(JITStatus.tailCallContext, pc: pc)))
        statistics.tailCallContextChecks += 1
    }

    /// Finds the array r2 names among those the program loads, checks the
    /// index and loads the slot's entry into r10, then enters it.
    mutating func emitIndirectTailCall(_ arrays: [JITTailCallArray], outermost: Bool, out: Label, at pc: Int,
                                       _ function: JITFunctionInfo, _ e: X86Encoder) {
        let context = RegisterMap.context
        let labels = arrays.map { _ in e.asm.makeLabel() }
        for (array, label) in zip(arrays, labels) {
            e.movabs(.r10, imm: array.handle)               /* movabs r10, handle */
            e.arith(.cmp, .qword, .rsi, .r10)               /* cmp rsi, r10: this array? */
            e.j(.e, label)                                  /* je array_k */
        }
        let notArray = e.asm.makeLabel()
        e.store(.qword, Memory(context, layout.dynamicHelper), .rsi) /* mov [r12+dynamicHelper], rsi: for the report */
        e.jmp(notArray)                                     /* jmp not-a-program-array stub */
        stubs.append(.raise(notArray, status: JITStatus.word(JITStatus.notAProgramArray, pc: pc)))
        let enter = e.asm.makeLabel()
        for (k, (array, label)) in zip(arrays, labels).enumerated() {
            e.asm.bind(label)
            e.arith(.cmp, .dword, .rdx, imm: Int32(array.maxEntries)) /* cmp edx, max_entries: index is a u32 */
            e.j(.ae, out)                                   /* jae out */
            e.movabs(.r10, imm: array.entries)              /* movabs r10, entries */
            e.mov(.dword, .r11, .rdx)                       /* mov r11d, edx: zero-extended index */
            e.shift(.shl, .qword, .r11, count: 3)           /* shl r11, 3 */
            e.arith(.add, .qword, .r10, .r11)               /* add r10, r11 */
            e.load(.qword, .r10, Memory(.r10))              /* mov r10, [r10]: the slot's entry */
            e.test(.qword, .r10, .r10)                      /* test r10, r10 */
            e.j(.e, out)                                    /* je out: empty slot */
            if k + 1 < arrays.count { e.jmp(enter) }        /* jmp enter */
        }
        e.asm.bind(enter)
        if !arrays.isEmpty { emitEnterTailCall(outermost: outermost, out: out, function, e) }
    }

    /// Counts the call (or falls through to `out` when 33 were made), then
    /// enters the program whose entry is in r10.
    mutating func emitEnterTailCall(outermost: Bool, out: Label, _ function: JITFunctionInfo, _ e: X86Encoder) {
        emitCountTailCall(out: out, e)
        if outermost {
            e.mov(.qword, .rdx, RegisterMap.context)        /* mov rdx, r12: the target's run context */
            emitEntryUnwind(e)
            e.jmp(.r10)                                     /* jmp r10: the target returns to the host */
        } else {
            emitSaveForTailCall(e)
            e.call(.r10)                                    /* call r10 */
            emitReturnFromTailCall(function, e)
        }
    }

    /// `if (count >= 33) goto out; count++`.
    mutating func emitCountTailCall(out: Label, _ e: X86Encoder) {
        let count = Memory(RegisterMap.context, layout.tailCallCount)
        e.arith(.cmp, .qword, count, imm: Int32(TailCalls.maxCount)) /* cmp qword [r12+tailCallCount], 33 */
        e.j(.ae, out)                                       /* jae out: the run's tail calls are used up */
        e.arith(.add, .qword, count, imm: 1)                /* add qword [r12+tailCallCount], 1 */
    }

    /// Before calling a target from a subprogram: keep the context fields
    /// its prologue overwrites (four words: rsp stays 16-byte aligned), pass
    /// the context.
    func emitSaveForTailCall(_ e: X86Encoder) {
        let context = RegisterMap.context
        for field in [layout.exitStack, layout.stackBase, layout.stackEnd, layout.program] {
            e.load(.qword, .r11, Memory(context, field))    /* mov r11, [r12+field] */
            e.push(.r11)                                    /* push r11 */
        }
        e.mov(.qword, .rdx, context)                        /* mov rdx, r12: the target's run context */
    }

    /// After the target returned: restore the context fields, leave through
    /// the error exit if the target failed (its program stays named for the
    /// report), else return the target's r0 from this function.
    func emitReturnFromTailCall(_ function: JITFunctionInfo, _ e: X86Encoder) {
        let context = RegisterMap.context
        e.pop(.r11)                                         /* pop r11: this program's info */
        for field in [layout.stackEnd, layout.stackBase, layout.exitStack] {
            e.pop(.r10)                                     /* pop r10 */
            e.store(.qword, Memory(context, field), .r10)   /* mov [r12+field], r10 */
        }
        e.arith(.cmp, .qword, Memory(context, layout.status), imm: 0) /* cmp qword [r12+status], 0 */
        e.j(.ne, errorExitLabel)                            /* jne error exit */
        e.store(.qword, Memory(context, layout.program), .r11) /* mov [r12+program], r11 */
        e.jmp(e.asm.epilogue(function.index))               /* jmp epilogue: r0 is the target's */
    }

    /// Pads with no-ops so that the next 5 bytes lie within one aligned
    /// 8-byte word (images are 16-byte aligned), which `CodeMemory.patch`
    /// replaces with one atomic store.
    func alignPatchSite(_ e: X86Encoder) {
        let within = e.code.count % 8
        if within > 3 { e.nop(8 - within) }
    }
}

/// The bytes of x86-64 direct tail-call sites.
public struct X86TailCallPatching: JITTailCallPatching {
    public init() {}

    /// `jmp rel32` (E9) or `call rel32` (E8) to `entry`, if within ±2 GiB.
    public func targetInstruction(for site: JITTailCallSite, imageAddress: UInt, entry: UInt64) -> [UInt8]? {
        let end = Int64(bitPattern: UInt64(imageAddress) + UInt64(site.targetOffset) + 5)
        let displacement = Int64(bitPattern: entry) &- end
        guard let rel32 = Int32(exactly: displacement) else { return nil }
        return [site.kind == .jump ? 0xe9 : 0xe8] + withUnsafeBytes(of: rel32.littleEndian) { Array($0) }
    }

    /// `nop dword [rax + rax*1 + 0]` (0F 1F 44 00 00), the 5-byte no-op.
    public func inactiveBypass(for site: JITTailCallSite) -> [UInt8] { [0x0f, 0x1f, 0x44, 0x00, 0x00] }
}
