import BPFISA
import BPFJIT

extension X86_64Backend {
    /// The memory operand for an access of `size` bytes at `base + offset`,
    /// with the bounds check `MemoryChecking.checked` asks for:
    ///
    /// ```
    ///     lea  r11, [base + offset]        ; the address
    ///     mov  r10, r11
    ///     sub  r10, [r12 + inputStart]
    ///     cmp  r10, [r12 + limit(size)]    ; inside the first input region?
    ///     jb   .ok
    ///     mov  r10, r11
    ///     sub  r10, [r12 + stackBase]
    ///     cmp  r10, stackSize - size + 1   ; inside the BPF stack?
    ///     jae  .slow                       ; out of line: call the host check
    /// .ok:
    ///     <access [r11]>
    /// ```
    ///
    /// `.slow` is a stub after the body. It first checks the run's dynamic
    /// region (the XDP packet) against its live bounds, read through the
    /// context because helpers move them:
    ///
    /// ```
    /// .slow:
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
    /// The routine asks `JITHostRoutines.checkAccess` about all the run's
    /// regions and leaves through the error exit on a violation. Misaligned
    /// atomics go straight to `.host`, which reports them.
    /// `[r10 + offset]` inside the current frame needs no check at all.
    mutating func checkedAddress(base: Register, offset: Int16, size: Int, write: Bool, atomic: Bool = false,
                                 pc: Int, _ e: X86Encoder) -> Memory {
        let b = RegisterMap.native(base)
        if options.memoryChecking == .unchecked || Self.provablyInFrame(base: base, offset: offset, size: size, atomic: atomic) {
            return Memory(b, Int32(offset))
        }
        statistics.checkedAccesses += 1
        let context = RegisterMap.context
        if offset == 0 {
            e.mov(.qword, .r11, b)                                  /* mov r11, base */
        } else {
            e.lea(.r11, Memory(b, Int32(offset)))                   /* lea r11, [base + offset] */
        }
        let ok = e.asm.makeLabel(), slow = e.asm.makeLabel(), host = e.asm.makeLabel()
        if atomic {
            e.test(.dword, .r11, imm: Int32(size - 1))              /* test r11d, size - 1: aligned? */
            e.j(.ne, host)                                          /* jne host check (reports it) */
        }
        e.mov(.qword, .r10, .r11)                                   /* mov r10, r11 */
        e.arith(.sub, .qword, .r10, Memory(context, layout.inputStart)) /* sub r10, [r12+inputStart] */
        e.arith(.cmp, .qword, .r10, Memory(context, layout.limit(size: size, write: write))) /* cmp r10, [r12+limit] */
        if frame.stackSize > 0 {
            e.j(.b, ok)                                             /* jb ok: in the input region */
            e.mov(.qword, .r10, .r11)                               /* mov r10, r11 */
            e.arith(.sub, .qword, .r10, Memory(context, layout.stackBase)) /* sub r10, [r12+stackBase] */
            e.arith(.cmp, .qword, .r10, imm: Int32(frame.stackSize - size + 1)) /* cmp r10, stack - size + 1 */
        }
        e.j(.ae, slow)                                              /* jae slow path */
        e.asm.bind(ok)
        stubs.append(.check(slow, host: host, size: size, write: write,
                            info: JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic), resume: ok))
        return Memory(.r11)
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
