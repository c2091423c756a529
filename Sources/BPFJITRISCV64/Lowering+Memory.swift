import BPFISA
import BPFJIT

/// A memory operand: a base register and a byte offset.
struct RV64Address {
    var base: RV64Register
    var offset: Int64
}

extension RV64Backend {
    /// The memory operand for an access of `size` bytes at `base + offset`,
    /// with the bounds check `MemoryChecking.checked` asks for:
    ///
    /// ```
    ///     addi t1, base, offset            ; the address
    ///     sub  t2, t1, s8                  ; offset into the first input region
    ///     ld   t3, limit(size)(s6)         ; valid start offsets for this size and direction
    ///     bltu t2, t3, .ok                 ; inside the input region
    ///     sub  t2, t1, s9                  ; offset into the BPF stack
    ///     li   t3, stackSize - size + 1
    ///     bgeu t2, t3, .slow               ; out of line: the host check
    /// .ok:
    ///     <access 0(t1)>
    /// ```
    ///
    /// `.slow` is a stub after the body (`li t2, info; jal ra, check; j
    /// .ok`). Atomics also test the alignment first (`andi t2, t1, size-1;
    /// bnez t2, .slow`), so that a misaligned one is reported, not executed.
    /// `[r10 + offset]` inside the current frame needs no check, nor does an
    /// access a verifier proved safe (`JITProofs`).
    mutating func checkedAddress(base: Register, offset: Int16, size: Int, write: Bool, atomic: Bool = false,
                                 pc: Int, _ e: RV64Encoder) -> RV64Address {
        let b = RV64RegisterMap.native(base)
        if options.memoryChecking == .unchecked || (base != .r10 && proofs.isSafeAccess(at: pc))
            || JITStackSizing.inFrame(base: base, offset: offset, size: size, atomic: atomic) {
            return RV64Address(base: b, offset: Int64(offset))
        }
        statistics.checkedAccesses += 1
        let address = RV64RegisterMap.address, scratch = RV64RegisterMap.immediate, limit = RV64Register.t3
        addConstant(address, b, Int64(offset), e)           /* addi t1, base, offset */
        let ok = e.asm.makeLabel(), slow = e.asm.makeLabel()
        if atomic {
            e.andi(scratch, address, Int64(size - 1))       /* andi t2, t1, size-1: aligned? */
            e.branch(.ne, scratch, .zero, slow)             /* bnez t2, slow path (reports it) */
        }
        e.sub(scratch, address, RV64RegisterMap.inputStart) /* sub t2, t1, s8 */
        e.ld(limit, Int64(layout.limit(size: size, write: write)), RV64RegisterMap.context) /* ld t3, limit(s6) */
        if stackSize > 0 {
            e.branch(.ltu, scratch, limit, ok)              /* bltu t2, t3, ok: in the input region */
            e.sub(scratch, address, RV64RegisterMap.stackBase) /* sub t2, t1, s9 */
            e.loadImmediate(limit, Int64(stackSize - size + 1)) /* li t3, stack - size + 1 */
        }
        e.branch(.geu, scratch, limit, slow)                /* bgeu t2, t3, slow path */
        e.asm.bind(ok)
        stubs.append(.check(slow, info: JITAccessInfo.word(pc: pc, size: size, write: write, atomic: atomic),
                            resume: ok, address: address))
        return RV64Address(base: address, offset: 0)
    }

    /// An operand whose offset fits the 12-bit field (else the address in t2).
    func reachable(_ m: RV64Address, _ e: RV64Encoder) -> RV64Address {
        if RV64Encoder.fits12(m.offset) { return m }
        let scratch = RV64RegisterMap.immediate
        e.loadImmediate(scratch, m.offset)                  /* li t2, offset */
        e.add(scratch, scratch, m.base)                     /* add t2, t2, base */
        return RV64Address(base: scratch, offset: 0)
    }

    /// One load: zero-extending (`lbu`, `lhu`, `lwu`, `ld`) or sign-extending (`lb`, `lh`, `lw`).
    func access(load size: AccessSize, signed: Bool, _ d: RV64Register, _ m: RV64Address, _ e: RV64Encoder) {
        let m = reachable(m, e)
        let kind: RV64Encoder.LoadKind = switch (size, signed) {
        case (.byte, false): .lbu
        case (.byte, true): .lb
        case (.half, false): .lhu
        case (.half, true): .lh
        case (.word, false): .lwu
        case (.word, true): .lw
        default: .ld
        }
        e.load(kind, d, m.offset, m.base)                   /* l<size> dst, offset(base) */
    }

    /// One store of `size` bytes.
    func access(store size: AccessSize, _ value: RV64Register, _ m: RV64Address, _ e: RV64Encoder) {
        let m = reachable(m, e)
        e.store(bytes: size.bytes, value, m.offset, m.base) /* s<size> value, offset(base) */
    }

    /// Atomic read-modify-write of `*(width *)(dst + offset)` with src: one
    /// AMO (`amoadd`, `amoand`, `amoor`, `amoxor`, `amoswap`; `.aqrl` when
    /// it fetches, the old value to zero when it does not), and for cmpxchg
    /// an LR/SC loop, as the kernel emits them:
    ///
    /// ```
    ///     sext.w/mv t2, r0                ; the expected value (lr.w sign-extends)
    /// retry:
    ///     lr.w|d.aqrl t3, (t1)
    ///     bne  t3, t2, done
    ///     sc.w|d.rl t4, src, (t1)
    ///     bnez t4, retry
    ///     fence rw, rw
    /// done:
    ///     mv r0, t3                       ; zero-extended for 32 bits
    /// ```
    mutating func lowerAtomic(_ width: Width, _ operation: AtomicOperation, dst: Register, offset: Int16,
                              src: Register, pc: Int, _ e: RV64Encoder) {
        let double = width == .w64, size = double ? 8 : 4
        let m = checkedAddress(base: dst, offset: offset, size: size, write: true, atomic: true, pc: pc, e)
        var address = m.base
        if m.offset != 0 {
            address = RV64RegisterMap.address
            addConstant(address, m.base, m.offset, e)       /* addi t1, base, offset */
        }
        let s = RV64RegisterMap.native(src), r0 = RV64RegisterMap.native(.r0)
        func amo(_ op: RV64Encoder.AMO, fetch: Bool) {
            e.amo(op, double: double, ordered: fetch, fetch ? s : .zero, s, address) /* amo<op>.w|d src|zero, src, (addr) */
            if fetch && !double { zext(s, e) }
        }
        switch operation {
        case .add(let fetch): amo(.add, fetch: fetch)
        case .and(let fetch): amo(.and, fetch: fetch)
        case .or(let fetch): amo(.or, fetch: fetch)
        case .xor(let fetch): amo(.xor, fetch: fetch)
        case .xchg: amo(.swap, fetch: true)
        case .cmpxchg:
            let expected = RV64RegisterMap.immediate, old = RV64Register.t3, status = RV64Register.t4
            let retry = e.asm.makeLabel(), done = e.asm.makeLabel()
            if double { e.mv(expected, r0) } else { e.addiw(expected, r0, 0) } /* mv/sext.w t2, a5 */
            e.asm.bind(retry)
            e.lr(double: double, old, address)              /* lr.w|d.aqrl t3, (addr) */
            e.branch(.ne, old, expected, done)              /* bne t3, t2, done */
            e.sc(double: double, status, s, address)        /* sc.w|d.rl t4, src, (addr) */
            e.branch(.ne, status, .zero, retry)             /* bnez t4, retry */
            e.fence()                                       /* fence rw, rw */
            e.asm.bind(done)
            if double { e.mv(r0, old) } else { e.zeroExtend32(r0, old) } /* mv / zext.w a5, t3 */
        }
    }
}
