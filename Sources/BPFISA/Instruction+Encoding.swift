/// Typed instructions to raw slots.
extension Instruction {
    /// The raw slots of this instruction: two for a 64-bit immediate load, else one.
    /// `.immediate64Tail` encodes to nothing: its slot is written by the load before it.
    public var encoded: [RawInstruction] {
        switch self {
        case .alu(let width, let op, let dst, let operand):
            let cls = width == .w64 ? Opcode.classALU64 : Opcode.classALU
            switch operand {
            case .register(let src):
                return [RawInstruction(opcode: cls | op.code | Opcode.sourceX, dst: dst.rawValue, src: src.rawValue, offset: op.offsetField)]
            case .immediate(let imm):
                return [RawInstruction(opcode: cls | op.code | Opcode.sourceK, dst: dst.rawValue, offset: op.offsetField, imm: imm)]
            }
        case .neg(let width, let dst):
            return [RawInstruction(opcode: (width == .w64 ? Opcode.classALU64 : Opcode.classALU) | ALUOperation.negCode, dst: dst.rawValue)]
        case .movsx(let width, let dst, let src, let bits):
            let cls = width == .w64 ? Opcode.classALU64 : Opcode.classALU
            return [RawInstruction(opcode: cls | ALUOperation.mov.code | Opcode.sourceX, dst: dst.rawValue, src: src.rawValue, offset: Int16(bits))]
        case .byteSwap(let kind, let dst, let bits):
            let opcode: UInt8 = switch kind {
            case .toLittleEndian: Opcode.classALU | ALUOperation.endCode | Opcode.sourceK
            case .toBigEndian: Opcode.classALU | ALUOperation.endCode | Opcode.sourceX
            case .swap: Opcode.classALU64 | ALUOperation.endCode | Opcode.sourceK
            }
            return [RawInstruction(opcode: opcode, dst: dst.rawValue, imm: Int32(bits))]
        case .jump(let offset):
            return [RawInstruction(opcode: Opcode.classJMP, offset: offset)]
        case .jumpLong(let offset):
            return [RawInstruction(opcode: Opcode.classJMP32, imm: offset)]
        case .branch(let width, let condition, let dst, let operand, let offset):
            let cls = width == .w64 ? Opcode.classJMP : Opcode.classJMP32
            switch operand {
            case .register(let src):
                return [RawInstruction(opcode: cls | condition.rawValue | Opcode.sourceX, dst: dst.rawValue, src: src.rawValue, offset: offset)]
            case .immediate(let imm):
                return [RawInstruction(opcode: cls | condition.rawValue, dst: dst.rawValue, offset: offset, imm: imm)]
            }
        case .call(let target):
            let call = Opcode.classJMP | 0x80
            switch target {
            case .helper(let id): return [RawInstruction(opcode: call, src: 0, imm: id)]
            case .local(let offset): return [RawInstruction(opcode: call, src: 1, imm: offset)]
            case .kfunc(let id): return [RawInstruction(opcode: call, src: 2, imm: id)]
            case .register(let reg): return [RawInstruction(opcode: call | Opcode.sourceX, dst: reg.rawValue)]
            }
        case .exit:
            return [RawInstruction(opcode: Opcode.classJMP | 0x90)]
        case .loadImmediate64(let dst, let value):
            let (low, high): (Int32, Int32) = switch value {
            case .value(let v): (Int32(truncatingIfNeeded: v), Int32(truncatingIfNeeded: v >> 32))
            case .mapByFD(let fd): (fd, 0)
            case .mapValueByFD(let fd, let offset): (fd, Int32(bitPattern: offset))
            case .variable(let id, let fd): (id, fd)
            case .codeAddress(let offset): (offset, 0)
            case .mapByIndex(let i): (i, 0)
            case .mapValueByIndex(let i, let offset): (i, Int32(bitPattern: offset))
            }
            return [RawInstruction(opcode: Opcode.classLD | Opcode.modeIMM | Opcode.sizeDW, dst: dst.rawValue, src: value.sourceField, imm: low),
                    RawInstruction(opcode: 0, imm: high)]
        case .immediate64Tail:
            return []
        case .load(let size, let dst, let src, let offset):
            return [RawInstruction(opcode: Opcode.classLDX | Opcode.modeMEM | size.opcodeBits, dst: dst.rawValue, src: src.rawValue, offset: offset)]
        case .loadSignExtend(let size, let dst, let src, let offset):
            return [RawInstruction(opcode: Opcode.classLDX | Opcode.modeMEMSX | size.opcodeBits, dst: dst.rawValue, src: src.rawValue, offset: offset)]
        case .storeImmediate(let size, let dst, let offset, let imm):
            return [RawInstruction(opcode: Opcode.classST | Opcode.modeMEM | size.opcodeBits, dst: dst.rawValue, offset: offset, imm: imm)]
        case .store(let size, let dst, let offset, let src):
            return [RawInstruction(opcode: Opcode.classSTX | Opcode.modeMEM | size.opcodeBits, dst: dst.rawValue, src: src.rawValue, offset: offset)]
        case .atomic(let width, let op, let dst, let offset, let src):
            let size: AccessSize = width == .w64 ? .double : .word
            return [RawInstruction(opcode: Opcode.classSTX | Opcode.modeATOMIC | size.opcodeBits, dst: dst.rawValue, src: src.rawValue, offset: offset, imm: op.immediate)]
        }
    }
}
