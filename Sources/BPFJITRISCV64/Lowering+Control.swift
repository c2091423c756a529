import BPFISA
import BPFJIT
import BPFRuntime

extension RV64Backend {
    /// The runaway guard, charged on every backward jump (the slots it jumps
    /// back over) and every local call (1), against the budget in s7:
    /// `addi s7, s7, -charge; bltz s7, stop` — the rule every JIT shares,
    /// so all stop a runaway program after the same work. Nothing when the
    /// proofs say every run ends within the budget.
    mutating func chargeGuard(_ charge: Int, pc: Int, _ e: RV64Encoder) {
        if proofs.unguarded { return }
        statistics.guardCharges += 1
        let budget = RV64RegisterMap.budget, stop = e.asm.makeLabel()
        addConstant(budget, budget, -Int64(charge), e)      /* addi s7, s7, -charge */
        e.branch(.lt, budget, .zero, stop)                  /* bltz s7, stop */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.instructionLimit, pc: pc)))
    }

    /// `ja`/`gotol`: nothing for a jump to the next slot.
    mutating func lowerJump(to target: Int, at pc: Int, _ e: RV64Encoder) {
        if target == pc + 1 { return }
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        e.j(e.asm.instruction(target))                      /* j target */
    }

    /// Conditional jumps. JMP32 compares the sign-extended low halves
    /// (`sext.w` preserves both the signed and the unsigned order of 32-bit
    /// values); JSET tests `dst & src` (its low half for JMP32).
    mutating func lowerBranch(_ width: Width, _ condition: JumpCondition, dst: Register, _ operand: Operand,
                              to target: Int, at pc: Int, _ e: RV64Encoder) {
        if target == pc + 1 { return }
        if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
        let label = e.asm.instruction(target), wide = width == .w64
        var a = RV64RegisterMap.native(dst)
        var b: RV64Register
        switch operand {
        case .register(let register):
            b = RV64RegisterMap.native(register)
        case .immediate(let imm):
            if imm == 0 {
                b = .zero
            } else if condition == .set && RV64Encoder.fits12(Int64(imm)) {
                e.andi(.t3, a, Int64(imm))                  /* andi t3, dst, imm */
                if !wide { e.slli(.t3, .t3, 32) }           /* slli t3, t3, 32: the low half */
                e.branch(.ne, .t3, .zero, label)            /* bnez t3, target */
                return
            } else {
                b = .t4
                e.loadImmediate(.t4, Int64(imm))            /* li t4, imm (sign-extended) */
            }
        }
        if condition == .set {
            e.and(.t3, a, b)                                /* and t3, dst, src */
            if !wide { e.slli(.t3, .t3, 32) }               /* slli t3, t3, 32 */
            e.branch(.ne, .t3, .zero, label)                /* bnez t3, target */
            return
        }
        if !wide {
            e.addiw(.t3, a, 0)                              /* sext.w t3, dst */
            a = .t3
            if b != .zero && b != .t4 {
                e.addiw(.t4, b, 0)                          /* sext.w t4, src */
                b = .t4
            }
        }
        let (c, x, y): (RV64Condition, RV64Register, RV64Register) = switch condition {
        case .eq: (.eq, a, b)
        case .ne, .set: (.ne, a, b)
        case .gt: (.ltu, b, a)
        case .ge: (.geu, a, b)
        case .lt: (.ltu, a, b)
        case .le: (.geu, b, a)
        case .sgt: (.lt, b, a)
        case .sge: (.ge, a, b)
        case .slt: (.lt, a, b)
        case .sle: (.ge, b, a)
        }
        e.branch(c, x, y, label)                            /* b<cond> x, y, target */
    }

    /// Helper calls, local calls, calls through a register, kfunc calls.
    mutating func lowerCall(_ target: CallTarget, at pc: Int, _ e: RV64Encoder) {
        switch target {
        case .helper(let id):
            callHelper(.helper(id), at: pc, e)
        case .register(let register):
            callHelper(.register(RV64RegisterMap.native(register)), at: pc, e)
        case .local(let offset):
            let callee = pc + 1 + Int(offset)
            let index = functionOfEntry[callee]!
            let r10 = RV64RegisterMap.native(.r10), scratch = RV64RegisterMap.address
            chargeGuard(1, pc: pc, e)
            let tooDeep = e.asm.makeLabel()
            e.sub(scratch, r10, RV64RegisterMap.stackBase)  /* sub t1, s5, s9: bytes of stack left */
            e.addi(RV64RegisterMap.immediate, .zero, Int64(2 * Self.frameBytes)) /* li t2, 1024 */
            e.branch(.ltu, scratch, RV64RegisterMap.immediate, tooDeep) /* bltu t1, t2, call-depth stub */
            stubs.append(.raise(tooDeep, status: JITStatus.word(JITStatus.callDepth, pc: pc)))
            e.addi(r10, r10, -Int64(Self.frameBytes))       /* addi s5, s5, -512: the callee's r10 */
            e.jal(.ra, index == 0 ? entryInnerLabel : e.asm.function(index)) /* jal ra, function */
            e.addi(r10, r10, Int64(Self.frameBytes))        /* addi s5, s5, 512 */
        case .kfunc:
            stopUnsupported(at: pc, e)
        }
    }

    /// An instruction this engine cannot run: stop with `unsupported` when reached.
    mutating func stopUnsupported(at pc: Int, _ e: RV64Encoder) {
        let stop = e.asm.makeLabel()
        e.j(stop)                                           /* j unsupported stub */
        stubs.append(.raise(stop, status: JITStatus.word(JITStatus.unsupported, pc: pc)))
    }

    enum HelperCallee {
        case helper(Int32)
        /// `callx`: the number is in this register at run time.
        case register(RV64Register)
    }

    /// A helper call: r1–r5 are already a0–a4; those still read after the
    /// call (`liveAcrossCalls`) are kept on the stack around it, and the
    /// result moves from a0 to r0 (a5).
    ///
    /// ```
    ///     addi sp, sp, -16*n ; sd a0, 0(sp) …     ; the live ones of r1–r5
    ///     jal ra, helper                          ; or auipc/li t6 + jalr ra, t6
    ///     mv a5, a0
    ///     ld a0, 0(sp) … ; addi sp, sp, 16*n
    /// ```
    /// `callx` puts the number in t1 and the status a miss reports in t2,
    /// and calls the image's table walk (`emitDispatch`).
    mutating func callHelper(_ callee: HelperCallee, at pc: Int, _ e: RV64Encoder) {
        let live = liveAcrossCalls[pc] ?? 0b11111
        let kept = RV64RegisterMap.arguments.enumerated().filter { live & (1 << $0.offset) != 0 }.map(\.element)
        if case .register(let register) = callee { e.mv(RV64RegisterMap.address, register) } /* mv t1, reg: the number */
        let size = Int64((kept.count + 1) / 2 * 16)
        if !kept.isEmpty {
            e.addi(.sp, .sp, -size)                         /* addi sp, sp, -size */
            for (k, register) in kept.enumerated() { e.sd(register, Int64(8 * k), .sp) } /* sd arg, 8k(sp) */
        }
        switch callee {
        case .helper(let id):
            callHost(targets.helpers[id]!, e)
        case .register:
            e.loadImmediate(RV64RegisterMap.immediate, Int64(JITStatus.word(RV64Status.dynamicHelperMissing, pc: pc))) /* li t2, status */
            e.jal(.ra, dispatchLabel)                       /* jal ra, table walk */
        }
        e.mv(RV64RegisterMap.native(.r0), .a0)              /* mv a5, a0: r0 = result */
        if !kept.isEmpty {
            for (k, register) in kept.enumerated() { e.ld(register, Int64(8 * k), .sp) } /* ld arg, 8k(sp) */
            e.addi(.sp, .sp, size)                          /* addi sp, sp, size */
        }
    }

    /// A call to host code at an absolute address, chosen per site once the
    /// image has its address: `jal ra, target` within ±1 MiB of this very
    /// instruction, `auipc t6, hi; jalr ra, lo(t6)` within ±2 GiB, else the
    /// address built in t6 and `jalr ra, 0(t6)`. While the address is
    /// unknown the last form is sized, padded to at least the `auipc` pair,
    /// so no site grows once the address is known.
    mutating func callHost(_ target: UInt64, _ e: RV64Encoder) {
        if let image = e.asm.imageAddress {
            let here = UInt64(image) &+ UInt64(e.code.count)
            let displacement = Int64(bitPattern: target &- here)
            if RV64Branch.j20.canEncode(Int(displacement)) {
                e.jal(.ra, displacement: Int(displacement))  /* jal ra, target */
                statistics.directCalls += 1
                return
            }
            if RV64Branch.pcrel32.canEncode(Int(displacement)) {
                let (hi, lo) = RV64Encoder.split(displacement)
                e.auipc(RV64RegisterMap.callTarget, hi)     /* auipc t6, hi */
                e.jalr(.ra, lo, RV64RegisterMap.callTarget) /* jalr ra, lo(t6) */
                statistics.indirectCalls += 1
                return
            }
        }
        let start = e.code.count
        e.loadImmediate(RV64RegisterMap.callTarget, Int64(bitPattern: target)) /* li t6, target */
        while e.code.count - start < 8 { e.nop() }           /* nop: at least the auipc pair's size */
        e.jalr(.ra, 0, RV64RegisterMap.callTarget)           /* jalr ra, 0(t6) */
        statistics.indirectCalls += 1
    }

    /// The slow bounds check shared by all access sites, called from their
    /// stubs with the address in t1 and the access word in t2: keeps every
    /// register a BPF program may hold a value in (and ax, t0) across the
    /// call, calls the check routine `(context, address, info)`, and leaves
    /// through the error exit if it refused.
    mutating func emitCheckRoutine(_ e: RV64Encoder) {
        e.asm.bind(checkRoutineLabel)
        let saved: [RV64Register] = [.ra, .a0, .a1, .a2, .a3, .a4, .a5, .t0, .t1]
        e.addi(.sp, .sp, -80)                               /* addi sp, sp, -80 */
        for (k, register) in saved.enumerated() { e.sd(register, Int64(8 * k), .sp) } /* sd reg, 8k(sp) */
        e.mv(.a0, RV64RegisterMap.context)                  /* mv a0, s6: context */
        e.mv(.a1, RV64RegisterMap.address)                  /* mv a1, t1: address */
        e.mv(.a2, RV64RegisterMap.immediate)                /* mv a2, t2: access info */
        callHost(targets.checkAccess, e)
        e.mv(RV64RegisterMap.immediate, .a0)                /* mv t2, a0: refused? */
        for (k, register) in saved.enumerated() { e.ld(register, Int64(8 * k), .sp) } /* ld reg, 8k(sp) */
        e.addi(.sp, .sp, 80)                                /* addi sp, sp, 80 */
        e.branch(.ne, RV64RegisterMap.immediate, .zero, errorExitLabel) /* bnez t2, error exit */
        e.ret()                                             /* ret to the stub */
    }

    /// The table walk `callx` uses (helpers have addresses of their own under
    /// the emulator): t1 holds the number, t2 the status to stop with if no
    /// helper has it, ra the return address at the call site.
    ///
    /// ```
    /// dispatch:  auipc/addi t3, table; li t4, count
    /// loop:      beqz t4, miss
    ///            ld t5, 0(t3); addi t3, t3, 16; beq t5, t1, found
    ///            addi t4, t4, -1; j loop
    /// found:     ld t5, -8(t3); jr t5              ; the helper returns to the call site
    /// miss:      sd t1, dynamicHelper(s6); sd t2, status(s6); j errorExit
    /// table:     .quad number, address  (× count, 8-byte aligned)
    /// ```
    mutating func emitDispatch(_ e: RV64Encoder) {
        let entries = targets.helpers.sorted { $0.key < $1.key }
        let number = RV64RegisterMap.address, status = RV64RegisterMap.immediate
        let cursor = RV64Register.t3, left = RV64Register.t4, item = RV64Register.t5
        let context = RV64RegisterMap.context
        let loop = e.asm.makeLabel(), found = e.asm.makeLabel(), miss = e.asm.makeLabel()
        e.asm.bind(dispatchLabel)
        e.loadAddress(cursor, dispatchTableLabel)           /* auipc t3, table; addi t3, t3, table */
        e.loadImmediate(left, Int64(entries.count))         /* li t4, count */
        e.asm.bind(loop)
        e.branch(.eq, left, .zero, miss)                    /* beqz t4, miss */
        e.ld(item, 0, cursor)                               /* ld t5, 0(t3): a number */
        e.addi(cursor, cursor, 16)                          /* addi t3, t3, 16 */
        e.branch(.eq, item, number, found)                  /* beq t5, t1, found */
        e.addi(left, left, -1)                              /* addi t4, t4, -1 */
        e.j(loop)                                           /* j loop */
        e.asm.bind(found)
        e.ld(item, -8, cursor)                              /* ld t5, -8(t3): its address */
        e.jalr(.zero, 0, item)                              /* jr t5: returns to the site */
        statistics.indirectCalls += 1
        e.asm.bind(miss)
        e.sd(number, Int64(layout.dynamicHelper), context)  /* sd t1, dynamicHelper(s6) */
        e.sd(status, Int64(layout.status), context)         /* sd t2, status(s6) */
        e.j(errorExitLabel)                                 /* j error exit */
        while e.code.count % 8 != 0 { e.nop() }               /* (c.)nop: align the table to 8 bytes */
        e.asm.bind(dispatchTableLabel)
        for (id, address) in entries {
            let value = UInt64(bitPattern: Int64(id))
            e.emit(UInt32(truncatingIfNeeded: value)); e.emit(UInt32(truncatingIfNeeded: value >> 32))
            e.emit(UInt32(truncatingIfNeeded: address)); e.emit(UInt32(truncatingIfNeeded: address >> 32))
        }
    }
}
