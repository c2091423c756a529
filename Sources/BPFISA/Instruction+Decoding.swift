/// Raw slots to typed instructions, checking every field RFC 9669 fixes.
extension Instruction {
    /// Decodes the instruction at `index` of `slots`; for a 64-bit immediate
    /// load the next slot is read too. Reserved fields must be zero.
    public static func decode(_ slots: [RawInstruction], at index: Int) throws(ISAError) -> Instruction {
        let raw = slots[index]
        var d = FieldChecker(raw: raw, index: index)
        switch Opcode.instructionClass(raw.opcode) {
        case Opcode.classALU, Opcode.classALU64:
            return try d.arithmetic()
        case Opcode.classJMP, Opcode.classJMP32:
            return try d.jump()
        case Opcode.classLD:
            return try d.load64(next: index + 1 < slots.count ? slots[index + 1] : nil)
        case Opcode.classLDX:
            return try d.loadFromMemory()
        default:
            return try d.storeToMemory()
        }
    }
}

/// Field-by-field validation of one raw slot.
private struct FieldChecker {
    let raw: RawInstruction
    let index: Int

    func zero(_ field: String, _ value: Int64) throws(ISAError) {
        guard value == 0 else {
            throw .reservedField(index: index, field: field, value: value, opcode: raw.opcode)
        }
    }

    func register(_ field: String, _ value: UInt8) throws(ISAError) -> Register {
        guard let r = Register(rawValue: value) else {
            throw .invalidRegister(index: index, field: field, value: value)
        }
        return r
    }

    var dst: Register { get throws(ISAError) { try register("dst", raw.dst) } }
    var src: Register { get throws(ISAError) { try register("src", raw.src) } }

    func unknown() -> ISAError { .unknownOpcode(index: index, opcode: raw.opcode) }

    mutating func arithmetic() throws(ISAError) -> Instruction {
        let width: Width = Opcode.instructionClass(raw.opcode) == Opcode.classALU64 ? .w64 : .w32
        let op = raw.opcode & 0xf0
        let isX = raw.opcode & Opcode.sourceX != 0
        let dst = try dst
        switch op {
        case ALUOperation.negCode:
            guard !isX else { throw unknown() }
            try zero("src", Int64(raw.src))
            try zero("offset", Int64(raw.offset))
            try zero("imm", Int64(raw.imm))
            return .neg(width, dst: dst)
        case ALUOperation.endCode:
            if width == .w64 && isX { throw unknown() }
            try zero("src", Int64(raw.src))
            try zero("offset", Int64(raw.offset))
            guard [16, 32, 64].contains(raw.imm) else {
                throw .invalidField(index: index, field: "imm", value: Int64(raw.imm),
                                    reason: "byte swap width must be 16, 32 or 64")
            }
            let kind: ByteSwapKind = width == .w64 ? .swap : (isX ? .toBigEndian : .toLittleEndian)
            return .byteSwap(kind, dst: dst, bits: UInt8(raw.imm))
        case 0xe0, 0xf0:
            throw unknown()
        default:
            break
        }
        let operation: ALUOperation
        switch (op, raw.offset) {
        case (0x30, 1): operation = .sdiv
        case (0x90, 1): operation = .smod
        case (0xb0, 8), (0xb0, 16), (0xb0, 32):
            // MOVSX: register form only; ALU (32-bit) takes 8 and 16 bits only.
            guard isX, !(width == .w32 && raw.offset == 32) else {
                throw .invalidField(index: index, field: "offset", value: Int64(raw.offset),
                                    reason: "sign-extending move needs the register form and 8 or 16 bits (32 only for mov64)")
            }
            try zero("imm", Int64(raw.imm))
            return .movsx(width, dst: dst, src: try src, bits: UInt8(raw.offset))
        default:
            guard let found = ALUOperation.allCases.first(where: { $0.code == op && $0.offsetField == 0 }) else {
                throw unknown()
            }
            try zero("offset", Int64(raw.offset))
            operation = found
        }
        if isX {
            try zero("imm", Int64(raw.imm))
            return .alu(width, operation, dst: dst, .register(try src))
        }
        try zero("src", Int64(raw.src))
        return .alu(width, operation, dst: dst, .immediate(raw.imm))
    }

    mutating func jump() throws(ISAError) -> Instruction {
        let width: Width = Opcode.instructionClass(raw.opcode) == Opcode.classJMP ? .w64 : .w32
        let op = raw.opcode & 0xf0
        let isX = raw.opcode & Opcode.sourceX != 0
        switch op {
        case 0x00: // JA
            guard !isX else { throw unknown() }
            try zero("dst", Int64(raw.dst))
            try zero("src", Int64(raw.src))
            if width == .w64 {
                try zero("imm", Int64(raw.imm))
                return .jump(offset: raw.offset)
            }
            try zero("offset", Int64(raw.offset))
            return .jumpLong(offset: raw.imm)
        case 0x80: // CALL
            guard width == .w64 else { throw unknown() }
            try zero("offset", Int64(raw.offset))
            if isX {
                try zero("src", Int64(raw.src))
                try zero("imm", Int64(raw.imm))
                return .call(.register(try dst))
            }
            try zero("dst", Int64(raw.dst))
            switch raw.src {
            case 0: return .call(.helper(raw.imm))
            case 1: return .call(.local(offset: raw.imm))
            case 2: return .call(.kfunc(btfID: raw.imm))
            default:
                throw .invalidField(index: index, field: "src", value: Int64(raw.src),
                                    reason: "call kind must be 0 (helper), 1 (local) or 2 (kfunc)")
            }
        case 0x90: // EXIT
            guard width == .w64, !isX else { throw unknown() }
            try zero("dst", Int64(raw.dst))
            try zero("src", Int64(raw.src))
            try zero("offset", Int64(raw.offset))
            try zero("imm", Int64(raw.imm))
            return .exit
        default:
            guard let condition = JumpCondition(rawValue: op) else { throw unknown() }
            let dst = try dst
            if isX {
                try zero("imm", Int64(raw.imm))
                return .branch(width, condition, dst: dst, .register(try src), offset: raw.offset)
            }
            try zero("src", Int64(raw.src))
            return .branch(width, condition, dst: dst, .immediate(raw.imm), offset: raw.offset)
        }
    }

    mutating func load64(next: RawInstruction?) throws(ISAError) -> Instruction {
        let mode = raw.opcode & 0xe0
        if mode == Opcode.modeABS || mode == Opcode.modeIND { throw .legacyPacketAccess(index: index) }
        guard raw.opcode == Opcode.classLD | Opcode.modeIMM | Opcode.sizeDW else { throw unknown() }
        try zero("offset", Int64(raw.offset))
        let dst = try dst
        guard let next else { throw .malformedImmediate64(index: index, reason: "is missing its second slot") }
        guard next.opcode == 0, next.dst == 0, next.src == 0, next.offset == 0 else {
            throw .malformedImmediate64(index: index, reason: "has a second slot whose opcode, registers and offset are not all zero")
        }
        let low = UInt32(bitPattern: raw.imm), high = UInt32(bitPattern: next.imm)
        func noHigh() throws(ISAError) {
            guard high == 0 else {
                throw .malformedImmediate64(index: index, reason: "of kind \(raw.src) requires the second imm to be 0, found \(next.imm)")
            }
        }
        switch raw.src {
        case 0: return .loadImmediate64(dst: dst, .value(UInt64(high) << 32 | UInt64(low)))
        case 1: try noHigh(); return .loadImmediate64(dst: dst, .mapByFD(raw.imm))
        case 2: return .loadImmediate64(dst: dst, .mapValueByFD(fd: raw.imm, offset: high))
        case 3: return .loadImmediate64(dst: dst, .variable(btfID: raw.imm, btfFD: next.imm))
        case 4: try noHigh(); return .loadImmediate64(dst: dst, .codeAddress(offset: raw.imm))
        case 5: try noHigh(); return .loadImmediate64(dst: dst, .mapByIndex(raw.imm))
        case 6: return .loadImmediate64(dst: dst, .mapValueByIndex(index: raw.imm, offset: high))
        default:
            throw .invalidField(index: index, field: "src", value: Int64(raw.src),
                                reason: "64-bit immediate kind must be 0–6")
        }
    }

    mutating func loadFromMemory() throws(ISAError) -> Instruction {
        let size = AccessSize(opcodeBits: raw.opcode)
        let mode = raw.opcode & 0xe0
        try zero("imm", Int64(raw.imm))
        switch mode {
        case Opcode.modeMEM:
            return .load(size, dst: try dst, src: try src, offset: raw.offset)
        case Opcode.modeMEMSX where size != .double:
            return .loadSignExtend(size, dst: try dst, src: try src, offset: raw.offset)
        default:
            throw unknown()
        }
    }

    mutating func storeToMemory() throws(ISAError) -> Instruction {
        let size = AccessSize(opcodeBits: raw.opcode)
        let mode = raw.opcode & 0xe0
        let isSTX = Opcode.instructionClass(raw.opcode) == Opcode.classSTX
        switch (mode, isSTX) {
        case (Opcode.modeMEM, false):
            try zero("src", Int64(raw.src))
            return .storeImmediate(size, dst: try dst, offset: raw.offset, imm: raw.imm)
        case (Opcode.modeMEM, true):
            try zero("imm", Int64(raw.imm))
            return .store(size, dst: try dst, offset: raw.offset, src: try src)
        case (Opcode.modeATOMIC, true) where size == .word || size == .double:
            guard let operation = AtomicOperation(immediate: raw.imm) else {
                throw .invalidField(index: index, field: "imm", value: Int64(raw.imm),
                                    reason: "not an atomic operation (add, or, and, xor, each with or without fetch; xchg; cmpxchg)")
            }
            return .atomic(size == .word ? .w32 : .w64, operation, dst: try dst, offset: raw.offset, src: try src)
        default:
            throw unknown()
        }
    }
}
