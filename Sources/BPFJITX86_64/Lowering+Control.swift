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
        if target <= pc { chargeGuard(pc - target + 1, pc: pc, e) }
        e.jmp(e.asm.instruction(target))                            /* jmp target */
    }

    /// Conditional jumps, 32- and 64-bit, immediate or register operand.
    mutating func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand,
                              to target: Int, at pc: Int, _ e: X86Encoder) {
        if target == pc + 1 { return }                              // no effect either way
        if target <= pc { chargeGuard(pc - target + 1, pc: pc, e) }
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
        e.j(Condition(condition), e.asm.instruction(target))        /* jcc target */
    }

    /// Helper calls, local calls, calls through a register, kfunc calls.
    mutating func lowerCall(_ target: CallTarget, at pc: Int, _ e: X86Encoder) {
        let context = RegisterMap.context
        switch target {
        case .helper(let id):
            callHelper(site: JITHelperTable.site(slot: helpers.slot(of: id), pc: pc), e)
        case .register(let register):
            e.store(.qword, Memory(context, layout.dynamicHelper), RegisterMap.native(register)) /* mov [r12+dynamicHelper], reg */
            callHelper(site: JITHelperTable.site(slot: JITHelperTable.dynamicSlot, pc: pc), e)
        case .local(let offset):
            let callee = pc + 1 + Int(offset)
            let index = functionOfEntry[callee]!
            chargeGuard(1, pc: pc, e)
            let tooDeep = e.asm.makeLabel()
            e.mov(.qword, .r11, .rbp)                               /* mov r11, rbp */
            e.arith(.sub, .qword, .r11, Memory(context, layout.stackBase)) /* sub r11, [r12+stackBase] */
            e.arith(.cmp, .qword, .r11, imm: Int32(2 * Self.frameBytes)) /* cmp r11, 2 frames: room for one more? */
            e.j(.b, tooDeep)                                        /* jb call-depth stub */
            stubs.append(.raise(tooDeep, status: JITStatus.word(JITStatus.callDepth, pc: pc)))
            e.arith(.sub, .qword, .rbp, imm: Int32(Self.frameBytes)) /* sub rbp, 512: callee's r10 */
            e.call(index == 0 && entryIsCallTarget ? entryInnerLabel : e.asm.function(index)) /* call function */
            e.arith(.add, .qword, .rbp, imm: Int32(Self.frameBytes)) /* add rbp, 512: our r10 again */
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

    /// A call into `JITHostRoutines.callHelper`: r1–r5 are already the first
    /// five SysV argument registers; the context goes sixth. r1–r5 are kept
    /// across the call, as the interpreter (and the kernel's) keeps them.
    ///
    /// ```
    ///     push rdi, rsi, rdx, rcx, r8; sub rsp, 8   ; keep r1–r5, stay aligned
    ///     mov  r9, r12                     ; 6th argument: run context
    ///     mov  dword [r12 + site], slot << 24 | pc
    ///     call callHelper                  ; or movabs rax, callHelper; call rax
    ///     add rsp, 8; pop r8, rcx, rdx, rsi, rdi
    ///     cmp  qword [r12 + status], 0
    ///     jne  errorExit                   ; the helper failed
    /// ```
    mutating func callHelper(site: UInt32, _ e: X86Encoder) {
        let context = RegisterMap.context
        let arguments: [GPR] = [.rdi, .rsi, .rdx, .rcx, .r8]
        for register in arguments { e.push(register) }              /* push r1–r5 */
        e.arith(.sub, .qword, .rsp, imm: 8)                         /* sub rsp, 8: alignment */
        e.mov(.qword, .r9, context)                                 /* mov r9, r12: 6th argument */
        e.store(.dword, Memory(context, layout.site), imm: Int32(bitPattern: site)) /* mov dword [r12+site], site */
        callHost(routines.callHelper, e)
        e.arith(.add, .qword, .rsp, imm: 8)                         /* add rsp, 8 */
        for register in arguments.reversed() { e.pop(register) }    /* pop r5–r1 */
        e.arith(.cmp, .qword, Memory(context, layout.status), imm: 0) /* cmp qword [r12+status], 0 */
        e.j(.ne, errorExitLabel)                                    /* jne error exit */
    }
}

extension Instruction {
    /// Whether any register field of the instruction names `register`.
    func mentions(_ register: Register) -> Bool { namedRegisters & (1 << register.rawValue) != 0 }
}
