/// The second operand of an arithmetic or jump instruction.
public enum Operand: Sendable, Hashable {
    case register(Register)
    case immediate(Int32)
}

/// One eBPF instruction, typed (RFC 9669 for cpu versions v1–v4).
///
/// A `Program` stores instructions indexed by 8-byte slot, so jump offsets are
/// plain index arithmetic. The 16-byte `loadImmediate64` occupies two slots; its
/// second slot holds `.immediate64Tail`, which is never executed and never a
/// jump target.
public enum Instruction: Sendable, Hashable {
    /// `dst = dst op src` (ALU for `.w32`, ALU64 for `.w64`).
    case alu(Width, ALUOperation, dst: Register, Operand)
    /// `dst = -dst`.
    case neg(Width, dst: Register)
    /// `dst = (sign-extended low bits of src)`; bits is 8, 16 or 32 (32 only for `.w64`).
    case movsx(Width, dst: Register, src: Register, bits: UInt8)
    /// Byte-order conversion of the low `bits` (16, 32 or 64) of `dst`.
    case byteSwap(ByteSwapKind, dst: Register, bits: UInt8)
    /// Unconditional jump `pc += 1 + offset` (JMP class, 16-bit offset).
    case jump(offset: Int16)
    /// Unconditional jump with a 32-bit offset in `imm` (JMP32 class, cpu v4 "gotol").
    case jumpLong(offset: Int32)
    /// `if cond(dst, src) pc += 1 + offset` (JMP for `.w64`, JMP32 for `.w32`).
    case branch(Width, JumpCondition, dst: Register, Operand, offset: Int16)
    case call(CallTarget)
    case exit
    /// `dst = imm64` in its pseudo-source kinds; occupies two slots.
    case loadImmediate64(dst: Register, Immediate64)
    /// Second slot of a `loadImmediate64`; carries nothing of its own.
    case immediate64Tail
    /// `dst = *(size *)(src + offset)`, zero-extended.
    case load(AccessSize, dst: Register, src: Register, offset: Int16)
    /// `dst = *(signed size *)(src + offset)`, sign-extended (cpu v4); size is byte, half or word.
    case loadSignExtend(AccessSize, dst: Register, src: Register, offset: Int16)
    /// `*(size *)(dst + offset) = imm`.
    case storeImmediate(AccessSize, dst: Register, offset: Int16, imm: Int32)
    /// `*(size *)(dst + offset) = src`.
    case store(AccessSize, dst: Register, offset: Int16, src: Register)
    /// Atomic read-modify-write of `*(width *)(dst + offset)` with `src`.
    case atomic(Width, AtomicOperation, dst: Register, offset: Int16, src: Register)

    /// Number of 8-byte slots the instruction occupies.
    @inlinable public var slotCount: Int {
        if case .loadImmediate64 = self { return 2 }
        return 1
    }

    /// The slot index this instruction at `pc` may transfer control to, if any
    /// (jumps, branches and local calls).
    public func target(at pc: Int) -> Int? {
        switch self {
        case .jump(let offset): pc + 1 + Int(offset)
        case .jumpLong(let offset): pc + 1 + Int(offset)
        case .branch(_, _, _, _, let offset): pc + 1 + Int(offset)
        case .call(.local(let offset)): pc + 1 + Int(offset)
        case .loadImmediate64(_, .codeAddress(let offset)): pc + 1 + Int(offset)
        default: nil
        }
    }

    /// The slots control may go to next after this instruction at `pc`
    /// within its function: the target of a jump, both ways of a branch,
    /// nothing after `exit`, and otherwise the next instruction (a local
    /// call returns there). Slots past the end are included; callers bound them.
    public func successors(at pc: Int) -> [Int] {
        switch self {
        case .exit: []
        case .jump, .jumpLong: [target(at: pc)!]
        case .branch: [pc + 1, target(at: pc)!]
        default: [pc + slotCount]
        }
    }

    /// Whether control never falls through to the next slot.
    public var endsBlock: Bool {
        switch self {
        case .exit, .jump, .jumpLong: true
        default: false
        }
    }
}
