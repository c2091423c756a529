import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

extension MIPS32Backend {
    public mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                               _ asm: JITAssembler<MIPS32Branch>) throws(JITError) {
        let e = encoder(asm)
        switch instruction {
        case .alu(let width, let operation, let dst, let operand):
            lowerALU(width, operation, dst: dst, operand, e)
        case .neg(let width, let dst):
            let d = pair(dst)
            if width == .w64 {
                e.subu(d.lo, .zero, d.lo)                       /* subu lo, zero, lo */
                e.sltu(.t6, .zero, d.lo)                        /* sltu t6, zero, lo: borrow */
                e.subu(d.hi, .zero, d.hi)                       /* subu hi, zero, hi */
                e.subu(d.hi, d.hi, .t6)                         /* subu hi, hi, t6 */
            } else {
                e.subu(d.lo, .zero, d.lo)                       /* subu lo, zero, lo */
                e.move(d.hi, .zero)                             /* move hi, zero */
            }
        case .movsx(let width, let dst, let src, let bits):
            let s = pair(src), d = pair(dst)
            switch bits {
            case 8: e.seb(d.lo, s.lo)                           /* seb lo, src.lo */
            case 16: e.seh(d.lo, s.lo)                          /* seh lo, src.lo */
            default: if d.lo != s.lo { e.move(d.lo, s.lo) }     /* move lo, src.lo */
            }
            if width == .w64 {
                e.sra(d.hi, d.lo, 31)                           /* sra hi, lo, 31 */
            } else {
                e.move(d.hi, .zero)                             /* move hi, zero */
            }
        case .byteSwap(let kind, let dst, let bits):
            lowerByteSwap(kind, dst: dst, bits: bits, e)
        case .jump, .jumpLong:
            let target = instruction.target(at: pc)!
            if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
            e.b(asm.instruction(target))                        /* b target */
        case .branch(let width, let condition, let dst, let operand, _):
            let target = instruction.target(at: pc)!
            if target <= pc { chargeGuard(proofs.guardCharge(from: pc, to: target), pc: pc, e) }
            lowerBranch(width, condition, dst: dst, operand, to: asm.instruction(target), e)
        case .call(.helper(TailCalls.helperID)) where tailCalls != nil:
            lowerTailCall(at: pc, in: function, e)
        case .call(.helper(let id)):
            lowerHelperCall(id, e)
        case .call(.register(let register)):
            lowerDynamicCall(register, pc: pc, e)
        case .call(.local):
            lowerLocalCall(to: instruction.target(at: pc)!, pc: pc, e)
        case .call(.kfunc):
            raise(JITStatus.unsupported, pc: pc, e)
        case .exit:
            if pc + 1 != function.end { e.b(asm.epilogue(function.index)) } /* b epilogue */
        case .loadImmediate64(let dst, let value):
            guard case .value(let constant) = value else {
                raise(JITStatus.unsupported, pc: pc, e)         // the loader did not resolve it
                return
            }
            let d = pair(dst)
            e.load(d.lo, UInt32(truncatingIfNeeded: constant))  /* lo = constant[31:0] */
            e.load(d.hi, UInt32(truncatingIfNeeded: constant >> 32)) /* hi = constant[63:32] */
        case .immediate64Tail:
            break
        case .load(let size, let dst, let src, let offset):
            lowerLoad(size, signed: false, dst: dst, base: src, offset: offset, pc: pc, e)
        case .loadSignExtend(let size, let dst, let src, let offset):
            lowerLoad(size, signed: true, dst: dst, base: src, offset: offset, pc: pc, e)
        case .store(let size, let dst, let offset, let src):
            let (base, displacement) = address(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            lowerStore(size, pair(src), base: base, offset: displacement,
                       aligned: isAligned(base: dst, offset: offset, size: size.bytes), e)
        case .storeImmediate(let size, let dst, let offset, let imm):
            let (base, displacement) = address(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            let value = immediatePair(imm, e)
            lowerStore(size, value, base: base, offset: displacement,
                       aligned: isAligned(base: dst, offset: offset, size: size.bytes), e)
        case .atomic(let width, let operation, let dst, let offset, let src):
            lowerAtomic(width, operation, dst: dst, offset: offset, src: src, pc: pc, e)
        }
    }

    /// An immediate sign-extended to 64 bits in t8:t9 (either register is
    /// $zero when its word is 0).
    func immediatePair(_ imm: Int32, _ e: MIPS32Encoder) -> MIPS32Pair {
        var lo = MIPS32Register.zero, hi = MIPS32Register.zero
        if imm != 0 {
            e.load(.t8, UInt32(bitPattern: imm))                /* t8 = imm */
            lo = .t8
        }
        if imm < 0 {
            e.addiu(.t9, .zero, -1)                             /* t9 = -1 */
            hi = .t9
        }
        return MIPS32Pair(lo, hi)
    }

    /// The operand as a pair: a register's, or an immediate sign-extended into t8:t9.
    func operandPair(_ operand: Operand, _ e: MIPS32Encoder) -> MIPS32Pair {
        switch operand {
        case .register(let register): pair(register)
        case .immediate(let imm): immediatePair(imm, e)
        }
    }

    /// The operand's low word in a register (an immediate in t8, or $zero).
    func operandLow(_ operand: Operand, _ e: MIPS32Encoder) -> MIPS32Register {
        switch operand {
        case .register(let register): return pair(register).lo
        case .immediate(let imm):
            if imm == 0 { return .zero }
            e.load(.t8, UInt32(bitPattern: imm))                /* t8 = imm */
            return .t8
        }
    }
}
