import BPFISA
import BPFJIT
import BPFRuntime

extension X86_64Backend {
    /// The runaway guard, charged on every backward jump (with the number of
    /// slots it jumps back over, an upper bound on the instructions one
    /// iteration executes) and on every local call (with 1):
    ///
    /// ```
    ///     sub  qword [r12 + budget], charge
    ///     js   .stop                       ; stub: status = instructionLimit at pc
    /// ```
    ///
    /// Straight-line code between charges runs at most once per charge, so a
    /// run stops after executing on the order of `instructionLimit` BPF
    /// instructions, as the interpreter does; exactly when depends on the
    /// shape of the loop (see docs/ARCHITECTURE.md).
    /// Nothing when the proofs say every run ends within the budget.
    mutating func chargeGuard(_ charge: Int, pc: Int, _ e: X86Encoder) {
        if proofs.unguarded { return }
        statistics.guardCharges += 1
        let stop = e.asm.makeLabel()
        e.arith(.sub, .qword, Memory(RegisterMap.context, layout.budget), imm: Int32(clamping: charge)) /* sub [r12+budget], charge */
        e.j(.s, stop)                                               /* js stop: budget exhausted */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.instructionLimit, pc: pc)))
    }

    /// `ja`/`gotol`: nothing for a jump to the next slot.
    mutating func lowerJump(to target: Int, at pc: Int, _ e: X86Encoder) {
        if target == pc + 1 { return }
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        e.jmp(e.asm.instruction(target))                            /* jmp target */
    }

    /// Conditional jumps, 32- and 64-bit, immediate or register operand.
    mutating func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand,
                              to target: Int, at pc: Int, _ e: X86Encoder) {
        if target == pc + 1 { return }                              // no effect either way
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        let size = OperandSize(width), d = RegisterMap.native(dst)
        switch operand {
        case .register(let srcRegister):
            let s = RegisterMap.native(srcRegister)
            if condition == .set {
                e.test(size, d, s)                                  /* test dst, src */
            } else {
                e.arith(.cmp, size, d, s)                           /* cmp dst, src */
            }
        case .immediate(let imm):
            if condition == .set {
                e.test(size, d, imm: imm)                           /* test dst, imm32 */
            } else if imm == 0 {
                e.test(size, d, d)                                  /* test dst, dst: cmp dst, 0 */
            } else {
                e.arith(.cmp, size, d, imm: imm)                    /* cmp dst, imm */
            }
        }
        if !peepholes.selects.isEmpty, let select = peepholes.selects[pc] {
            emitSelect(select, branchCondition: Condition(condition), at: pc, e)  /* cmovcc …; jmp join */
            return
        }
        e.j(Condition(condition), e.asm.instruction(target))        /* jcc target */
    }

    /// Helper calls, local calls, calls through a register, kfunc calls.
    mutating func lowerCall(_ target: CallTarget, at pc: Int, _ e: X86Encoder) {
        let context = RegisterMap.context
        switch target {
        case .helper where provenCalls[pc] != nil:
            callProvenHelper(provenCalls[pc]!, keep: liveAcrossCalls[pc] ?? 0b11111, e)
        case .helper(let id):
            let slot = helpers.slot(of: id)
            callHelper(site: JITHelperTable.site(slot: slot, pc: pc), native: helpers.helpers[slot].native,
                       keep: liveAcrossCalls[pc] ?? 0b11111, e)
        case .register(let register):
            e.store(.qword, Memory(context, layout.dynamicHelper), RegisterMap.native(register)) /* mov [r12+dynamicHelper], reg */
            callHelper(site: JITHelperTable.site(slot: JITHelperTable.dynamicSlot, pc: pc),
                       keep: liveAcrossCalls[pc] ?? 0b11111, e)
        case .local(let offset):
            let callee = pc + 1 + Int(offset)
            let index = functionOfEntry[callee]!
            chargeGuard(1, pc: pc, e)
            // The fixed scheme: 512 bytes a frame, and no room below the
            // last. Unless the call graph is bounded (`JITFramePlan`).
            if framePlan.checksCallDepth {
                statistics.callDepthChecks += 1
                let tooDeep = e.asm.makeLabel()
                e.mov(.qword, .r11, .rbp)                           /* mov r11, rbp */
                e.arith(.sub, .qword, .r11, Memory(context, layout.stackBase)) /* sub r11, [r12+stackBase] */
                e.arith(.cmp, .qword, .r11, imm: Int32(2 * JITStackSizing.frameBytes)) /* cmp r11, 2 frames: room for one more? */
                e.j(.b, tooDeep)                                    /* jb call-depth stub */
                stubs.append(.raise(tooDeep, status: JITStatus.word(JITStatus.callDepth, pc: pc)))
            }
            let step = Int32(callFrameBytes[pc] ?? JITStackSizing.frameBytes) // the caller's frame
            if step > 0 { e.arith(.sub, .qword, .rbp, imm: step) }  /* sub rbp, frame: callee's r10 */
            e.call(index == 0 && entryIsCallTarget ? entryInnerLabel : e.asm.function(index)) /* call function */
            if step > 0 { e.arith(.add, .qword, .rbp, imm: step) }  /* add rbp, frame: our r10 again */
        case .kfunc:
            stopUnsupported(at: pc, e)
        }
    }

    /// An instruction this engine cannot run: stop with `unsupported` when reached.
    mutating func stopUnsupported(at pc: Int, _ e: X86Encoder) {
        let stop = e.asm.makeLabel()
        e.jmp(stop)                                                 /* jmp unsupported stub */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.unsupported, pc: pc)))
    }

    /// A helper call: r1–r5 are already the first five SysV argument
    /// registers; the context goes sixth. A helper with a native entry
    /// (`NativeHelper`) is called directly, its data as the seventh argument
    /// (on the stack); any other through `JITHostRoutines.callHelper`. Both
    /// find the call site (for the fallback and for errors) in the context.
    /// Of r1–r5, those read after the call (`keep`, from `ArgumentLiveness`)
    /// are kept across it, as the interpreter keeps them all.
    ///
    /// ```
    ///     push <live of rdi, rsi, rdx, rcx, r8>    ; keep r1–r5 read later
    ///     sub rsp, 8                               ; if the words pushed are odd
    ///     movabs r10, data; push r10               ; native: 7th argument
    ///     mov  r9, r12                             ; 6th argument: run context
    ///     mov  dword [r12 + site], slot << 24 | pc
    ///     call entry                               ; or movabs rax, entry; call rax
    ///     add rsp, 8 or 16; pop <live>
    ///     cmp  qword [r12 + status], 0
    ///     jne  errorExit                           ; the helper failed
    /// ```
    mutating func callHelper(site: UInt32, native: NativeHelper? = nil, keep: UInt8 = 0b11111, _ e: X86Encoder) {
        let context = RegisterMap.context
        let arguments: [GPR] = [.rdi, .rsi, .rdx, .rcx, .r8]
        let kept = arguments.indices.filter { keep & (1 << $0) != 0 }.map { arguments[$0] }
        let words = kept.count + (native == nil ? 0 : 1)
        let padded = words % 2 == 1                                 // rsp stays 16-byte aligned at the call
        for register in kept { e.push(register) }                   /* push live r1–r5 */
        if padded { e.arith(.sub, .qword, .rsp, imm: 8) }           /* sub rsp, 8: alignment */
        if let native {
            e.movabs(.r10, imm: native.dataWord)                    /* movabs r10, data */
            e.push(.r10)                                            /* push r10: 7th argument */
        }
        e.mov(.qword, .r9, context)                                 /* mov r9, r12: 6th argument */
        e.store(.dword, Memory(context, layout.site), imm: Int32(bitPattern: site)) /* mov dword [r12+site], site */
        callHost(native?.address ?? routines.callHelper, e)
        let drop = (padded ? 8 : 0) + (native == nil ? 0 : 8)
        if drop > 0 { e.arith(.add, .qword, .rsp, imm: Int32(drop)) } /* add rsp, drop: data and padding */
        for register in kept.reversed() { e.pop(register) }         /* pop live r5–r1 */
        e.arith(.cmp, .qword, Memory(context, layout.status), imm: 0) /* cmp qword [r12+status], 0 */
        e.j(.ne, errorExitLabel)                                    /* jne error exit */
    }
}

extension X86_64Backend {
    /// A helper call the verifier proved (`ProvenHelperCall`): a plain C
    /// call of r1–r5, which cannot fail, or an array lookup inline.
    ///
    /// ```
    ///     push <live of rdi, rsi, rdx, rcx, r8>    ; keep r1–r5 read later
    ///     sub rsp, 8                               ; if the words pushed are odd
    ///     call entry                               ; or movabs rax, entry; call rax
    ///     add rsp, 8; pop <live>
    /// ```
    ///
    /// An array lookup (one value per element), as the kernel's
    /// `array_map_gen_lookup`:
    ///
    /// ```
    ///     mov   eax, dword [rsi]                   ; the key, an index
    ///     cmp   eax, maxEntries
    ///     jae   .null
    ///     imul  rax, rax, stride
    ///     movabs r11, values; add rax, r11
    ///     jmp   .done
    /// .null:
    ///     xor   eax, eax
    /// .done:
    /// ```
    mutating func callProvenHelper(_ call: ProvenHelperCall, keep: UInt8, _ e: X86Encoder) {
        switch call {
        case .function(let address):
            let arguments: [GPR] = [.rdi, .rsi, .rdx, .rcx, .r8]
            let kept = arguments.indices.filter { keep & (1 << $0) != 0 }.map { arguments[$0] }
            let padded = kept.count % 2 == 1                        // rsp stays 16-byte aligned at the call
            for register in kept { e.push(register) }               /* push live r1–r5 */
            if padded { e.arith(.sub, .qword, .rsp, imm: 8) }       /* sub rsp, 8: alignment */
            callHost(address, e)
            if padded { e.arith(.add, .qword, .rsp, imm: 8) }       /* add rsp, 8 */
            for register in kept.reversed() { e.pop(register) }     /* pop live r5–r1 */
        case .arrayLookup(let values, let stride, let maxEntries):
            let null = e.asm.makeLabel(), done = e.asm.makeLabel()
            e.load(.dword, .rax, Memory(.rsi, 0))                   /* mov eax, [rsi]: the index */
            e.arith(.cmp, .dword, .rax, imm: Int32(truncatingIfNeeded: maxEntries)) /* cmp eax, max_entries */
            e.j(.ae, null)                                          /* jae null: out of range */
            e.imul(.qword, .rax, .rax, imm: Int32(stride))          /* imul rax, rax, stride */
            e.movabs(.r11, imm: values)                             /* movabs r11, values */
            e.arith(.add, .qword, .rax, .r11)                       /* add rax, r11 */
            e.jmp(done)                                             /* jmp done */
            e.asm.bind(null)
            e.arith(.xor, .dword, .rax, .rax)                       /* xor eax, eax: null */
            e.asm.bind(done)
        }
    }
}

extension Instruction {
    /// Whether any register field of the instruction names `register`.
    func mentions(_ register: Register) -> Bool { namedRegisters & (1 << register.rawValue) != 0 }
}
