import BPFISA
import BPFJIT

/// A memory operand: a base register and a byte offset.
struct Arm64Address {
    var base: Arm64Register
    var offset: Int
}

extension Arm64Backend {
    /// The memory operand for an access of `size` bytes at `base + offset`,
    /// with the bounds check `MemoryChecking.checked` asks for:
    ///
    /// ```
    ///     add  x9, base, #offset           ; the address (base itself when offset is 0)
    ///     sub  x10, x9, x23                ; offset into the first input region
    ///     ldr  x11, [x26, #limit(size)]    ; valid start offsets for this size and direction
    ///     cmp  x10, x11
    ///     b.lo .ok                         ; inside the input region
    ///     sub  x10, x9, x24                ; offset into the BPF stack
    ///     cmp  x10, #(stackSize - size + 1)
    ///     b.hs .slow                       ; out of line: the host check
    /// .ok:
    ///     <access [x9]>
    /// ```
    ///
    /// `.slow` is a stub after the body: `mov w10, info; bl checkRoutine;
    /// b .ok`; the routine asks the host about all the run's regions and
    /// leaves through the error exit on a violation. Atomics also test the
    /// alignment first (`tst x9, #(size - 1); b.ne .slow`), so that a
    /// misaligned one is reported, not executed. `[r10 + offset]` inside the
    /// current frame needs no check at all, nor does an access a verifier
    /// proved safe (`JITProofs`).
    mutating func checkedAddress(base: Register, offset: Int16, size: Int, write: Bool, atomic: Bool = false,
                                 pc: Int, _ e: Arm64Encoder) -> Arm64Address {
        let b = Arm64RegisterMap.native(base)
        if options.memoryChecking == .unchecked || (base != .r10 && proofs.isSafeAccess(at: pc))
            || Self.provablyInFrame(base: base, offset: offset, size: size, atomic: atomic) {
            return Arm64Address(base: b, offset: Int(offset))
        }
        statistics.checkedAccesses += 1
        let address: Arm64Register
        if offset == 0 {
            address = b
        } else {
            address = Arm64RegisterMap.address
            addImmediate(.x, address, b, Int64(offset), e)          /* add x9, base, #offset */
        }
        let scratch = Arm64RegisterMap.immediate, limit = Arm64RegisterMap.scratch11
        let ok = e.asm.makeLabel(), slow = e.asm.makeLabel()
        if atomic {
            e.tst(.x, address, LogicalImmediate(UInt64(size - 1), size: .x)!) /* tst x9, #(size - 1): aligned? */
            e.b(.ne, slow)                                          /* b.ne slow path (reports it) */
        }
        e.sub(.x, scratch, address, Arm64RegisterMap.inputStart)    /* sub x10, x9, x23 */
        e.ldr(.double, limit, Arm64RegisterMap.context, offset: Int(layout.limit(size: size, write: write))) /* ldr x11, [x26, #limit] */
        e.cmp(.x, scratch, limit)                                   /* cmp x10, x11 */
        if frame.stackSize > 0 {
            e.b(.lo, ok)                                            /* b.lo ok: in the input region */
            e.sub(.x, scratch, address, Arm64RegisterMap.stackBase) /* sub x10, x9, x24 */
            e.cmp(.x, scratch, ArithmeticImmediate(UInt64(frame.stackSize - size + 1))!) /* cmp x10, #(stack - size + 1) */
        }
        e.b(.hs, slow)                                              /* b.hs slow path */
        e.asm.bind(ok)
        stubs.append(.check(slow, info: JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic),
                            resume: ok, address: address))
        return Arm64Address(base: address, offset: 0)
    }

    enum AccessKind {
        case load(Arm64Encoder.LoadKind)
        case store
    }

    /// One load or store of `size` bytes: the scaled unsigned offset form
    /// when the offset is a fitting multiple of the size, the unscaled
    /// 9-bit form for -256...255, else the offset in x10 and the register form.
    func access(_ kind: AccessKind, _ size: AccessSize, _ rt: Arm64Register, _ m: Arm64Address, _ e: Arm64Encoder) {
        // Zero-extending loads of 1–4 bytes write a W register (the upper half cleared).
        if Arm64Encoder.fitsScaled(m.offset, size) {
            switch kind {
            case .load(let extend): e.ldr(size, rt, m.base, offset: m.offset, extend) /* ldr rt, [base, #offset] */
            case .store: e.str(size, rt, m.base, offset: m.offset)                    /* str rt, [base, #offset] */
            }
        } else if Arm64Encoder.fitsUnscaled(m.offset) {
            switch kind {
            case .load(let extend): e.ldur(size, rt, m.base, offset: m.offset, extend) /* ldur rt, [base, #offset] */
            case .store: e.stur(size, rt, m.base, offset: m.offset)                    /* stur rt, [base, #offset] */
            }
        } else {
            let index = Arm64RegisterMap.immediate
            loadConstant(index, UInt64(bitPattern: Int64(m.offset)), e) /* mov x10, #offset */
            switch kind {
            case .load(let extend): e.ldr(size, rt, m.base, index: index, extend)      /* ldr rt, [base, x10] */
            case .store: e.str(size, rt, m.base, index: index)                         /* str rt, [base, x10] */
            }
        }
    }

    /// The register holding a store's immediate: xzr for 0, else x11 (the
    /// low bytes of the sign-extended value are what is stored).
    func storedImmediate(_ imm: Int32, _ e: Arm64Encoder) -> Arm64Register {
        if imm == 0 { return .zr }
        let value = Arm64RegisterMap.scratch11
        loadConstant(value, UInt64(bitPattern: Int64(imm)), e)      /* mov x11, #imm */
        return value
    }

    /// The address of an atomic in one register (atomics have no offset form).
    func atomicAddress(_ m: Arm64Address, _ e: Arm64Encoder) -> Arm64Register {
        guard m.offset != 0 else { return m.base }
        let address = Arm64RegisterMap.address
        addImmediate(.x, address, m.base, Int64(m.offset), e)       /* add x9, base, #offset */
        return address
    }

    /// Atomic read-modify-write of `*(width *)(dst + offset)` with src,
    /// in the form `options.atomics` names.
    mutating func lowerAtomic(_ width: Width, _ operation: AtomicOperation, dst: Register, offset: Int16,
                              src: Register, pc: Int, _ e: Arm64Encoder) {
        let size: AccessSize = width == .w64 ? .double : .word
        let m = checkedAddress(base: dst, offset: offset, size: Int(size.rawValue), write: true, atomic: true, pc: pc, e)
        let address = atomicAddress(m, e)
        let s = Arm64RegisterMap.native(src)
        switch options.atomics {
        case .lse: lowerAtomicLSE(size, operation, address: address, src: s, e)
        case .exclusive: lowerAtomicExclusive(size, operation, address: address, src: s, e)
        }
    }

    /// ARMv8.1 LSE: each BPF atomic is one instruction with acquire and
    /// release semantics (AL), as the kernel emits them; the old value goes
    /// to the zero register when BPF does not fetch it.
    func lowerAtomicLSE(_ size: AccessSize, _ operation: AtomicOperation, address: Arm64Register, src s: Arm64Register,
                        _ e: Arm64Encoder) {
        let r0 = Arm64RegisterMap.native(.r0), scratch = Arm64RegisterMap.immediate
        let operand = Arm64Size(size == .double ? .w64 : .w32)
        switch operation {
        case .add(let fetch):
            e.atomic(.add, size, s, fetch ? s : .zr, address)       /* ldaddal src, src|xzr, [addr] */
        case .or(let fetch):
            e.atomic(.set, size, s, fetch ? s : .zr, address)       /* ldsetal src, src|xzr, [addr] */
        case .xor(let fetch):
            e.atomic(.eor, size, s, fetch ? s : .zr, address)       /* ldeoral src, src|xzr, [addr] */
        case .and(let fetch):
            e.mvn(operand, scratch, s)                              /* mvn x10, src: and = clear of the complement */
            e.atomic(.clear, size, scratch, fetch ? s : .zr, address) /* ldclral x10, src|xzr, [addr] */
        case .xchg:
            e.atomic(.swap, size, s, s, address)                    /* swpal src, src, [addr] */
        case .cmpxchg:
            e.mov(.x, scratch, r0)                                  /* mov x10, x7: the expected value */
            e.casal(size, scratch, s, address)                      /* casal x10, src, [addr]: x10 = old */
            e.mov(.x, r0, scratch)                                  /* mov x7, x10: r0 = old (W: zero-extended) */
        }
    }

    /// ARMv8.0: a load-exclusive/store-exclusive loop, the kernel's
    /// sequences. Plain read-modify-writes are relaxed (LDXR/STXR); those
    /// that return the old value store with release and end with a full
    /// barrier, as BPF's fetching atomics are fully ordered:
    ///
    /// ```
    /// retry:
    ///     ldxr  x10, [addr]
    ///     <op>  x11, x10, src
    ///     stlxr w12, x11, [addr]          ; stxr when not fetching
    ///     cbnz  w12, retry
    ///     dmb   ish                       ; fetching forms
    ///     mov   src, x10                  ; fetching forms
    /// ```
    ///
    /// cmpxchg loads into x10, compares with r0 (kept in x11) and leaves
    /// without storing when they differ; r0 receives the old value either way.
    func lowerAtomicExclusive(_ size: AccessSize, _ operation: AtomicOperation, address: Arm64Register,
                              src s: Arm64Register, _ e: Arm64Encoder) {
        let old = Arm64RegisterMap.immediate, new = Arm64RegisterMap.scratch11, status = Arm64RegisterMap.scratch12
        let r0 = Arm64RegisterMap.native(.r0)
        let operand = Arm64Size(size == .double ? .w64 : .w32)
        let retry = e.asm.makeLabel()
        switch operation {
        case .cmpxchg:
            let done = e.asm.makeLabel()
            e.mov(.x, new, r0)                                      /* mov x11, x7: the expected value */
            e.asm.bind(retry)
            e.ldxr(size, old, address)                              /* ldxr x10, [addr] */
            e.cmp(operand, old, new)                                /* cmp x10, x11 */
            e.b(.ne, done)                                          /* b.ne done: no store */
            e.stxr(size, status: status, s, address, release: true) /* stlxr w12, src, [addr] */
            e.cbnz(.w, status, retry)                               /* cbnz w12, retry */
            e.dmbISH()                                              /* dmb ish */
            e.asm.bind(done)
            e.mov(.x, r0, old)                                      /* mov x7, x10: r0 = old */
        default:
            let fetch = operation.fetches
            e.asm.bind(retry)
            e.ldxr(size, old, address)                              /* ldxr x10, [addr] */
            let stored: Arm64Register
            switch operation {
            case .add: e.add(operand, new, old, s); stored = new   /* add x11, x10, src */
            case .or: e.orr(operand, new, old, s); stored = new    /* orr x11, x10, src */
            case .and: e.and(operand, new, old, s); stored = new   /* and x11, x10, src */
            case .xor: e.eor(operand, new, old, s); stored = new   /* eor x11, x10, src */
            default: stored = s                                     // xchg stores src itself
            }
            e.stxr(size, status: status, stored, address, release: fetch) /* st(l)xr w12, x11, [addr] */
            e.cbnz(.w, status, retry)                               /* cbnz w12, retry: lost the monitor */
            if fetch {
                e.dmbISH()                                          /* dmb ish */
                e.mov(.x, s, old)                                   /* mov src, x10: the old value */
            }
        }
    }

    /// The table walk `callx` uses when helpers have addresses of their own
    /// (emulated runs): x9 holds the number, x10 the status to stop with if
    /// no helper has it, x30 the return address at the call site. Helper
    /// numbers are compared as 64-bit values, so a value no Int32 sign-extends
    /// to finds nothing.
    ///
    /// ```
    /// dispatch:  adr x11, table; mov x12, #count
    /// loop:      cbz x12, miss
    ///            ldr x13, [x11], #16; cmp x13, x9; b.eq found
    ///            sub x12, x12, #1; b loop
    /// found:     ldur x13, [x11, #-8]; br x13     ; the helper returns to the call site
    /// miss:      str x9, [x26, #dynamicHelper]; str x10, [x26, #status]; b errorExit
    /// table:     .quad number, address  (× count, 8-byte aligned)
    /// ```
    mutating func emitDispatch(_ e: Arm64Encoder) {
        guard case .perHelper(let addresses) = targets.helpers else { return }
        let entries = addresses.sorted { $0.key < $1.key }
        let number = Arm64RegisterMap.address, status = Arm64RegisterMap.immediate
        let cursor = Arm64RegisterMap.scratch11, left = Arm64RegisterMap.scratch12, item = Arm64RegisterMap.scratch13
        let context = Arm64RegisterMap.context
        let loop = e.asm.makeLabel(), found = e.asm.makeLabel(), miss = e.asm.makeLabel()
        e.asm.bind(dispatchLabel)
        e.adr(cursor, dispatchTableLabel)                           /* adr x11, table */
        loadConstant(left, UInt64(entries.count), e)                /* mov x12, #count */
        e.asm.bind(loop)
        e.cbz(.x, left, miss)                                       /* cbz x12, miss */
        e.ldrPostIndex(.double, item, cursor, offset: 16)           /* ldr x13, [x11], #16: a number */
        e.cmp(.x, item, number)                                     /* cmp x13, x9 */
        e.b(.eq, found)                                             /* b.eq found */
        e.sub(.x, left, left, ArithmeticImmediate(1)!)              /* sub x12, x12, #1 */
        e.b(loop)                                                   /* b loop */
        e.asm.bind(found)
        e.ldur(.double, item, cursor, offset: -8)                   /* ldur x13, [x11, #-8]: its address */
        e.br(item)                                                  /* br x13: tail call; returns to the site */
        statistics.indirectCalls += 1
        e.asm.bind(miss)
        e.str(.double, number, context, offset: Int(layout.dynamicHelper)) /* str x9, [x26, #dynamicHelper] */
        e.str(.double, status, context, offset: Int(layout.status))        /* str x10, [x26, #status] */
        e.b(errorExitLabel)                                         /* b error exit */
        if e.code.count % 8 != 0 { e.nop() }                        /* align the table to 8 bytes */
        e.asm.bind(dispatchTableLabel)
        for (id, address) in entries {
            let value = UInt64(bitPattern: Int64(id))
            e.emit(UInt32(truncatingIfNeeded: value)); e.emit(UInt32(truncatingIfNeeded: value >> 32))
            e.emit(UInt32(truncatingIfNeeded: address)); e.emit(UInt32(truncatingIfNeeded: address >> 32))
        }
    }
}
