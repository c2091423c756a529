import BPFISA
import BPFJIT

extension X86_64Backend {
    /// The memory operand for an access of `size` bytes at `base + offset`,
    /// with the bounds check `MemoryChecking.checked` asks for. The access
    /// itself always addresses `[base + offset]`; r10 only judges it:
    ///
    /// ```
    ///     lea  r10, [base + offset]        ; the address (mov r10, base at offset 0)
    ///     sub  r10, [r12 + inputStart]
    ///     cmp  r10, [r12 + limit(size)]    ; inside the first input region?
    ///     jb   .ok
    ///     lea  r10, [base + offset]
    ///     sub  r10, [r12 + stackBase]
    ///     cmp  r10, stackSize - size + 1   ; inside the BPF stack?
    ///     jae  .slow                       ; out of line
    /// .ok:
    ///     <access [base + offset]>
    /// ```
    ///
    /// `.slow` is a stub after the body. It checks the run's dynamic region
    /// (the XDP packet) at its live bounds, read through the context because
    /// helpers move them, then calls the check routine, which asks the host
    /// (`JITHostRoutines.checkAccess`) about all the run's regions and leaves
    /// through the error exit on a violation. An access inside a loop or a
    /// subprogram keeps that dynamic check in its own stub, so a packet access
    /// costs no call:
    ///
    /// ```
    /// .slow:
    ///     lea  r11, [base + offset]
    ///     mov  r10, [r12 + dynamicStart]   ; address of the start word
    ///     cmp  r11, [r10]
    ///     jb   .host
    ///     mov  r10, [r12 + dynamicEnd]
    ///     mov  r10, [r10]                  ; the end
    ///     sub  r10, r11                    ; bytes left (borrow: past the end)
    ///     jb   .host
    ///     cmp  r10, size
    ///     jae  .ok
    /// .host:
    ///     mov  r10d, info
    ///     call checkRoutine
    ///     jmp  .ok
    /// ```
    ///
    /// An access that runs once per run calls the same check, shared by all
    /// accesses of its size and direction (`emitDynamicCheck`), from a stub of
    /// 17–20 bytes instead of about 55:
    ///
    /// ```
    /// .slow:
    ///     lea  r11, [base + offset]
    ///     mov  r10d, info
    ///     call dynamicCheck(size, write)   ; returns when allowed
    ///     jmp  .ok
    /// ```
    ///
    /// Atomics test their alignment first and call the check routine
    /// (which reports misalignment) directly.
    /// `[r10 + offset]` inside the current frame needs no check at all, nor
    /// does an access a verifier proved safe (`JITProofs`).
    mutating func checkedAddress(base: Register, offset: Int16, size: Int, write: Bool, atomic: Bool = false,
                                 pc: Int, _ e: X86Encoder) -> Memory {
        let m = Memory(RegisterMap.native(base), Int32(offset))
        if options.memoryChecking == .unchecked || (base != .r10 && proofs.isSafeAccess(at: pc))
            || Self.provablyInFrame(base: base, offset: offset, size: size, atomic: atomic) {
            return m
        }
        statistics.checkedAccesses += 1
        let context = RegisterMap.context
        let ok = e.asm.makeLabel(), slow = e.asm.makeLabel()
        address(into: .r10, m, e)
        if atomic {
            e.test(.dword, .r10, imm: Int32(size - 1))              /* test r10d, size - 1: aligned? */
            e.j(.ne, slow)                                          /* jne slow (the host reports it) */
        }
        e.arith(.sub, .qword, .r10, Memory(context, layout.inputStart)) /* sub r10, [r12+inputStart] */
        e.arith(.cmp, .qword, .r10, Memory(context, layout.limit(size: size, write: write))) /* cmp r10, [r12+limit] */
        if frame.stackSize > 0 {
            e.j(.b, ok)                                             /* jb ok: in the input region */
            address(into: .r10, m, e)
            e.arith(.sub, .qword, .r10, Memory(context, layout.stackBase)) /* sub r10, [r12+stackBase] */
            e.arith(.cmp, .qword, .r10, imm: Int32(frame.stackSize - size + 1)) /* cmp r10, stack - size + 1 */
        }
        e.j(.ae, slow)                                              /* jae slow path */
        e.asm.bind(ok)
        let routine = DynamicCheck(size: size, write: write)
        let path: SlowPath = atomic ? .host : repeats[pc] ? .inline(routine) : .shared(routine)
        if case .shared = path { dynamicChecksUsed |= routine.bit }
        stubs.append(.check(slow, address: m, info: JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic),
                            path: path, resume: ok))
        return m
    }

    /// `register = m.base + m.disp`.
    func address(into register: GPR, _ m: Memory, _ e: X86Encoder) {
        if m.disp == 0 {
            e.mov(.qword, register, m.base)                         /* mov reg, base */
        } else {
            e.lea(register, m)                                      /* lea reg, [base + offset] */
        }
    }

    /// The stub of one checked access (see `checkedAddress`).
    mutating func emitCheckStub(address: Memory, info: UInt32, path: SlowPath, resume: Label, _ e: X86Encoder) {
        e.lea(.r11, address)                                        /* lea r11, [base + offset]: the address */
        switch path {
        case .inline(let routine):
            let host = e.asm.makeLabel(), context = RegisterMap.context
            let bounds = layout.dynamicBounds(write: routine.write)
            e.load(.qword, .r10, Memory(context, bounds.start))     /* mov r10, [r12+dynamicStart] */
            e.arith(.cmp, .qword, .r11, Memory(.r10, 0))            /* cmp r11, [r10]: below the start? */
            e.j(.b, host)                                           /* jb host */
            e.load(.qword, .r10, Memory(context, bounds.end))       /* mov r10, [r12+dynamicEnd] */
            e.load(.qword, .r10, Memory(.r10, 0))                   /* mov r10, [r10]: the end */
            e.arith(.sub, .qword, .r10, .r11)                       /* sub r10, r11: bytes left */
            e.j(.b, host)                                           /* jb host: past the end */
            e.arith(.cmp, .qword, .r10, imm: Int32(routine.size))   /* cmp r10, size */
            e.j(.ae, resume)                                        /* jae back to the access */
            e.asm.bind(host)
            e.mov32(.r10, imm: info)                                /* mov r10d, pc << 8 | atomic << 5 | write << 4 | size */
            e.call(checkRoutineLabel)                               /* call check routine: returns when allowed */
        case .shared(let routine):
            e.mov32(.r10, imm: info)                                /* mov r10d, pc << 8 | atomic << 5 | write << 4 | size */
            e.call(dynamicCheckLabels[routine.index])               /* call dynamic-region check: returns when allowed */
        case .host:
            e.mov32(.r10, imm: info)                                /* mov r10d, pc << 8 | atomic << 5 | write << 4 | size */
            e.call(checkRoutineLabel)                               /* call check routine: returns when allowed */
        }
        e.jmp(resume)                                               /* jmp back to the access */
    }

    /// Slots inside a loop (between a backward jump and its target) or in a
    /// function a local call enters (which a loop may call): where accesses
    /// run many times.
    static func repeatedSlots(_ program: Program, functions: [(entry: Int, end: Int)], entryCalled: Bool) -> [Bool] {
        var depth = [Int](repeating: 0, count: program.count + 1)   // +1 at a loop's start, -1 past its end
        for (pc, instruction) in program.instructions.enumerated() {
            switch instruction {
            case .jump, .jumpLong, .branch:
                if let target = instruction.target(at: pc), target <= pc { depth[target] += 1; depth[pc + 1] -= 1 }
            default: continue
            }
        }
        if entryCalled {
            depth[0] += 1
        } else if functions.count > 1 {
            depth[functions[1].entry] += 1                        // subprograms follow the entry function
        }
        var repeated = [Bool](repeating: false, count: program.count), open = 0
        for pc in 0..<program.count {
            open += depth[pc]
            repeated[pc] = open > 0
        }
        return repeated
    }

    /// The shared part of the slow check of accesses of one size and
    /// direction, called from their stubs with the address in r11 and the
    /// access info in r10d. It returns when the access lies in the run's
    /// dynamic region, read through the context because helpers move its
    /// bounds ("start <= a && size <= end - a"); otherwise it continues in
    /// the check routine, which returns to the stub if the host allows the
    /// access and leaves through the error exit if not. r9 is scratch.
    ///
    /// ```
    ///     mov  r9, [r12 + dynamicStart]    ; address of the start word
    ///     cmp  r11, [r9]
    ///     jb   checkRoutine
    ///     mov  r9, [r12 + dynamicEnd]
    ///     mov  r9, [r9]                    ; the end
    ///     sub  r9, r11                     ; bytes left (borrow: past the end)
    ///     jb   checkRoutine
    ///     cmp  r9, size
    ///     jb   checkRoutine
    ///     ret
    /// ```
    func emitDynamicCheck(_ routine: DynamicCheck, _ e: X86Encoder) {
        e.asm.bind(dynamicCheckLabels[routine.index])
        let bounds = layout.dynamicBounds(write: routine.write)
        let context = RegisterMap.context
        // With the auxiliary register (r9) live, r9 is kept on the stack.
        let refuse = preservesAuxiliary ? e.asm.makeLabel() : checkRoutineLabel
        if preservesAuxiliary { e.push(.r9) }                       /* push r9: the auxiliary register */
        e.load(.qword, .r9, Memory(context, bounds.start))          /* mov r9, [r12+dynamicStart] */
        e.arith(.cmp, .qword, .r11, Memory(.r9, 0))                 /* cmp r11, [r9]: below the start? */
        e.j(.b, refuse)                                             /* jb check routine */
        e.load(.qword, .r9, Memory(context, bounds.end))            /* mov r9, [r12+dynamicEnd] */
        e.load(.qword, .r9, Memory(.r9, 0))                         /* mov r9, [r9]: the end */
        e.arith(.sub, .qword, .r9, .r11)                            /* sub r9, r11: bytes left */
        e.j(.b, refuse)                                             /* jb check routine: past the end */
        e.arith(.cmp, .qword, .r9, imm: Int32(routine.size))        /* cmp r9, size */
        e.j(.b, refuse)                                             /* jb check routine: too few left */
        if preservesAuxiliary { e.pop(.r9) }                        /* pop r9 */
        e.ret()                                                     /* ret to the stub: allowed */
        guard preservesAuxiliary else { return }
        e.asm.bind(refuse)
        e.pop(.r9)                                                  /* pop r9 */
        e.jmp(checkRoutineLabel)                                    /* jmp check routine */
    }

    /// Atomic read-modify-write of `*(width *)(dst + offset)` with src.
    mutating func lowerAtomic(_ width: Width, _ operation: AtomicOperation, dst: Register, offset: Int16,
                              src: Register, pc: Int, _ e: X86Encoder) {
        let size = OperandSize(width), s = RegisterMap.native(src)
        var m = checkedAddress(base: dst, offset: offset, size: size.rawValue, write: true, atomic: true, pc: pc, e)
        switch operation {
        case .add(fetch: false): e.lock(.add, size, m, s)           /* lock add [m], src */
        case .or(fetch: false): e.lock(.or, size, m, s)             /* lock or [m], src */
        case .and(fetch: false): e.lock(.and, size, m, s)           /* lock and [m], src */
        case .xor(fetch: false): e.lock(.xor, size, m, s)           /* lock xor [m], src */
        case .add(fetch: true): e.lockXadd(size, m, s)              /* lock xadd [m], src: src = old */
        case .xchg: e.xchg(size, m, s)                              /* xchg [m], src */
        case .cmpxchg:
            e.lockCmpxchg(size, m, s)                               /* lock cmpxchg [m], src: r0 = old */
            if width == .w32 { e.mov(.dword, .rax, .rax) }          /* mov eax, eax: on success rax keeps its upper half */
        case .or(fetch: true), .and(fetch: true), .xor(fetch: true):
            let kind: ArithmeticKind = switch operation {
            case .or: .or
            case .and: .and
            default: .xor
            }
            // A cmpxchg loop: rax is BPF r0 and cmpxchg's comparand, so r0
            // waits in r10; the new value is built in r9.
            if m.base == .rax {
                e.lea(.r11, m)                                      /* lea r11, [m]: free rax */
                m = Memory(.r11)
            }
            let value: GPR = s == .rax ? .r10 : s
            e.mov(.qword, .r10, .rax)                               /* mov r10, rax: keep r0 */
            e.load(size, .rax, m)                                   /* mov rax, [m]: old value */
            let retry = e.asm.makeLabel()
            e.asm.bind(retry)
            e.mov(.qword, .r9, .rax)                                /* mov r9, rax */
            e.arith(kind, size, .r9, value)                         /* op r9, src: new value */
            e.lockCmpxchg(size, m, .r9)                             /* lock cmpxchg [m], r9 */
            e.j(.ne, retry)                                         /* jne retry: raced */
            e.mov(size, s, .rax)                                    /* mov src, rax: old value */
            if s != .rax { e.mov(.qword, .rax, .r10) }              /* mov rax, r10: restore r0 */
        }
    }
}

/// One of the shared dynamic-region checks: accesses of 1, 2, 4 or 8 bytes, reads or writes.
struct DynamicCheck: Hashable {
    let size: Int
    let write: Bool

    /// 0–7: the size's log2, and 4 for writes.
    var index: Int { size.trailingZeroBitCount + (write ? 4 : 0) }
    var bit: UInt8 { 1 << UInt8(index) }

    /// The routines whose bits are set in `mask`, in index order.
    static func used(_ mask: UInt8) -> [DynamicCheck] {
        (0..<8).compactMap { k in mask & (1 << k) != 0 ? DynamicCheck(size: 1 << (k & 3), write: k >= 4) : nil }
    }
}
