import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

extension Arm32Backend {
    public mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                               _ asm: JITAssembler<Arm32Branch>) throws(JITError) {
        let e = Arm32Encoder(asm)
        switch instruction {
        case .alu(let width, let operation, let dst, let operand):
            lowerALU(width, operation, dst: dst, operand, e)
        case .neg(let width, let dst):
            let d = readDestination(dst, e)
            if width == .w64 {
                e.dp(.rsb, d.lo, d.lo, .immediate(Self.zero), s: true) /* rsbs lo, lo, #0 */
                e.dp(.rsc, d.hi, d.hi, .immediate(Self.zero))   /* rsc hi, hi, #0 */
            } else {
                e.dp(.rsb, d.lo, d.lo, .immediate(Self.zero))   /* rsb lo, lo, #0 */
                e.load(d.hi, 0)                                 /* mov hi, #0 */
            }
            write(dst, d, e)
        case .movsx(let width, let dst, let src, let bits):
            let s = read(src, into: Arm32RegisterMap.b, e)
            let d = destination(dst)
            switch bits {
            case 8: e.sxtb(d.lo, s.lo)                          /* sxtb lo, src.lo */
            case 16: e.sxth(d.lo, s.lo)                         /* sxth lo, src.lo */
            default: if d.lo != s.lo { e.mov(d.lo, s.lo) }      /* mov lo, src.lo */
            }
            if width == .w64 {
                e.mov(d.hi, .register(d.lo, .asr, 31))          /* asr hi, lo, #31 */
            } else {
                e.load(d.hi, 0)                                 /* mov hi, #0 */
            }
            write(dst, d, e)
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
            let d = destination(dst)
            e.load(d.lo, UInt32(truncatingIfNeeded: constant))  /* lo = constant[31:0] */
            e.load(d.hi, UInt32(truncatingIfNeeded: constant >> 32)) /* hi = constant[63:32] */
            write(dst, d, e)
        case .immediate64Tail:
            break
        case .load(let size, let dst, let src, let offset):
            lowerLoad(size, signed: false, dst: dst, base: src, offset: offset, pc: pc, e)
        case .loadSignExtend(let size, let dst, let src, let offset):
            lowerLoad(size, signed: true, dst: dst, base: src, offset: offset, pc: pc, e)
        case .store(let size, let dst, let offset, let src):
            address(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            lowerStore(size, read(src, into: Arm32RegisterMap.b, e), e)
        case .storeImmediate(let size, let dst, let offset, let imm):
            address(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            let s = Arm32RegisterMap.b
            e.load(s.lo, UInt32(bitPattern: imm))               /* r2 = imm */
            if size == .double { e.load(s.hi, imm < 0 ? 0xffff_ffff : 0) } /* r3 = sign of imm */
            lowerStore(size, s, e)
        case .atomic(let width, let operation, let dst, let offset, let src):
            lowerAtomic(width, operation, dst: dst, offset: offset, src: src, pc: pc, e)
        }
    }

    static let zero = Arm32Immediate(0)!

    // MARK: Register homes

    /// The pair `register` is worked on in as a destination: its own, or r0:r1.
    func destination(_ register: Register) -> Arm32Pair {
        Arm32RegisterMap.resident(register) ?? Arm32RegisterMap.a
    }

    /// The pair holding `register`'s value: its own, or `scratch` loaded from its slot.
    @discardableResult
    func read(_ register: Register, into scratch: Arm32Pair, _ e: Arm32Encoder) -> Arm32Pair {
        if let pair = Arm32RegisterMap.resident(register) { return pair }
        if register == .r10 {
            e.mov(scratch.lo, Arm32RegisterMap.framePointer)   /* mov lo, r10 */
            e.load(scratch.hi, 0)                               /* mov hi, #0 */
            return scratch
        }
        e.access(.ldrd, scratch.lo, Arm32RegisterMap.slots, offset: Arm32RegisterMap.slot(register)) /* ldrd lo, hi, [r11, #slot] */
        return scratch
    }

    /// The low word of `register`: its own register, or `scratch` loaded from its slot.
    func readLow(_ register: Register, into scratch: Arm32Register, _ e: Arm32Encoder) -> Arm32Register {
        if let pair = Arm32RegisterMap.resident(register) { return pair.lo }
        if register == .r10 { return Arm32RegisterMap.framePointer }
        e.access(.ldr, scratch, Arm32RegisterMap.slots, offset: Arm32RegisterMap.slot(register)) /* ldr scratch, [r11, #slot] */
        return scratch
    }

    /// The destination pair with the register's current value in it.
    func readDestination(_ register: Register, _ e: Arm32Encoder) -> Arm32Pair {
        read(register, into: Arm32RegisterMap.a, e)
    }

    /// Stores `pair` as `register`'s new value (nothing when it is its home).
    func write(_ register: Register, _ pair: Arm32Pair, _ e: Arm32Encoder) {
        if let home = Arm32RegisterMap.resident(register) {
            if home.lo != pair.lo { e.mov(home.lo, pair.lo) }
            if home.hi != pair.hi { e.mov(home.hi, pair.hi) }
            return
        }
        guard register != .r10 else {
            e.asm.code.poison("r10 is read-only")
            return
        }
        e.access(.strd, pair.lo, Arm32RegisterMap.slots, offset: Arm32RegisterMap.slot(register)) /* strd lo, hi, [r11, #slot] */
    }

    /// The operand as a pair: a register's, or an immediate sign-extended into r2:r3.
    func operandPair(_ operand: Operand, _ e: Arm32Encoder) -> Arm32Pair {
        switch operand {
        case .register(let register):
            return read(register, into: Arm32RegisterMap.b, e)
        case .immediate(let imm):
            let b = Arm32RegisterMap.b
            e.load(b.lo, UInt32(bitPattern: imm))               /* r2 = imm */
            e.load(b.hi, imm < 0 ? 0xffff_ffff : 0)             /* r3 = sign of imm */
            return b
        }
    }

    /// The operand's low word as a data-processing operand (an immediate when one encodes it).
    func operandLow(_ operand: Operand, _ e: Arm32Encoder) -> Arm32Operand {
        switch operand {
        case .register(let register):
            return .register(readLow(register, into: .r2, e))
        case .immediate(let imm):
            if let encoded = Arm32Immediate(UInt32(bitPattern: imm)) { return .immediate(encoded) }
            e.load(.r2, UInt32(bitPattern: imm))                /* r2 = imm */
            return .register(.r2)
        }
    }

    /// The operand's low word in a register.
    func operandLowRegister(_ operand: Operand, _ e: Arm32Encoder) -> Arm32Register {
        switch operand {
        case .register(let register): return readLow(register, into: .r2, e)
        case .immediate(let imm):
            e.load(.r2, UInt32(bitPattern: imm))                /* r2 = imm */
            return .r2
        }
    }
}
