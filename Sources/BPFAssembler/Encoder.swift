import BPFISA

/// Operands to typed instructions, one form at a time.
///
/// Every field is checked against its range here; nothing is truncated, so a
/// number that does not fit is an error rather than a different program.
enum Encoder {
    typealias Reason = AssemblyError.Reason

    static func encode(_ form: MnemonicForm, mnemonic: String, operands ops: [Substring]) throws(Reason) -> (Instruction, LabelReference?) {
        func expect(_ count: Int, _ what: String) throws(Reason) {
            guard ops.count == count else { throw .operandCount(mnemonic: mnemonic, expected: what, found: ops.count) }
        }
        switch form {
        case .alu(let width, let op):
            try expect(2, "2 operands (register, register or immediate)")
            return (.alu(width, op, dst: try Syntax.register(ops[0]), try operand(ops[1])), nil)
        case .neg(let width):
            try expect(1, "1 operand (register)")
            return (.neg(width, dst: try Syntax.register(ops[0])), nil)
        case .movsx(let width, let bits):
            try expect(2, "2 operands (register, register)")
            return (.movsx(width, dst: try Syntax.register(ops[0]), src: try Syntax.register(ops[1]), bits: bits), nil)
        case .byteSwap(let kind, let bits):
            try expect(1, "1 operand (register)")
            return (.byteSwap(kind, dst: try Syntax.register(ops[0]), bits: bits), nil)
        case .jump:
            try expect(1, "1 operand (label or offset)")
            let (offset, reference) = try target(ops[0], bits: 16)
            return (.jump(offset: Int16(offset)), reference)
        case .jumpLong:
            try expect(1, "1 operand (label or offset)")
            let (offset, reference) = try target(ops[0], bits: 32)
            return (.jumpLong(offset: Int32(offset)), reference)
        case .branch(let width, let condition):
            try expect(3, "3 operands (register, register or immediate, label or offset)")
            let dst = try Syntax.register(ops[0])
            let src = try operand(ops[1])
            let (offset, reference) = try target(ops[2], bits: 16)
            return (.branch(width, condition, dst: dst, src, offset: Int16(offset)), reference)
        case .call:
            try expect(1, "1 operand (N, helper N, local LABEL|+N, runtime N, or %rN)")
            return try call(ops[0])
        case .exit:
            try expect(0, "no operands")
            return (.exit, nil)
        case .loadImmediate64:
            try expect(2, "2 operands (register, 64-bit immediate)")
            let dst = try Syntax.register(ops[0])
            let (value, reference) = try immediate64(ops[1])
            return (.loadImmediate64(dst: dst, value), reference)
        case .load(let size):
            try expect(2, "2 operands (register, [register+offset])")
            let (src, offset) = try Syntax.memory(ops[1])
            return (.load(size, dst: try Syntax.register(ops[0]), src: src, offset: offset), nil)
        case .loadSignExtend(let size):
            try expect(2, "2 operands (register, [register+offset])")
            let (src, offset) = try Syntax.memory(ops[1])
            return (.loadSignExtend(size, dst: try Syntax.register(ops[0]), src: src, offset: offset), nil)
        case .storeImmediate(let size):
            try expect(2, "2 operands ([register+offset], immediate)")
            let (dst, offset) = try Syntax.memory(ops[0])
            return (.storeImmediate(size, dst: dst, offset: offset, imm: try Syntax.number(ops[1]).imm32()), nil)
        case .store(let size):
            try expect(2, "2 operands ([register+offset], register)")
            let (dst, offset) = try Syntax.memory(ops[0])
            return (.store(size, dst: dst, offset: offset, src: try Syntax.register(ops[1])), nil)
        case .atomic(let width, let operation):
            try expect(2, "2 operands ([register+offset], register)")
            let (dst, offset) = try Syntax.memory(ops[0])
            return (.atomic(width, operation, dst: dst, offset: offset, src: try Syntax.register(ops[1])), nil)
        }
    }

    /// A register or a 32-bit immediate.
    static func operand(_ s: Substring) throws(Reason) -> Operand {
        if Syntax.isRegister(s) { return .register(try Syntax.register(s)) }
        return .immediate(try Syntax.number(s).imm32())
    }

    /// A label, or a signed offset written with its sign (`+3`, `-1`, `+0x10`).
    static func target(_ s: Substring, bits: Int) throws(Reason) -> (Int64, LabelReference?) {
        if s.hasPrefix("+") || s.hasPrefix("-") {
            return (try Syntax.number(s).signed(bits: bits, field: "\(bits)-bit offset"), nil)
        }
        guard Syntax.isLabel(s) else { throw .badJumpTarget(String(s)) }
        return (0, LabelReference(label: String(s), bits: bits))
    }

    /// `call N` and `call helper N` (helper by id), `call local T` (local function),
    /// `call runtime N` (kernel function by BTF id), `call %rN` (through a register).
    static func call(_ s: Substring) throws(Reason) -> (Instruction, LabelReference?) {
        let words = Syntax.words(s)
        switch words.count {
        case 1:
            return Syntax.isRegister(words[0])
                ? (.call(.register(try Syntax.register(words[0]))), nil)
                : (.call(.helper(try Syntax.number(words[0]).imm32(field: "helper id"))), nil)
        case 2:
            switch words[0].lowercased() {
            case "helper": return try call(words[1])
            case "local":
                let (offset, reference) = try target(words[1], bits: 32)
                return (.call(.local(offset: Int32(offset))), reference)
            case "runtime":
                return (.call(.kfunc(btfID: try Syntax.number(words[1]).imm32(field: "BTF id"))), nil)
            default:
                throw .badCallTarget(String(s))
            }
        default:
            throw .badCallTarget(String(s))
        }
    }

    /// A 64-bit number, or one of the pseudo-source kinds (a BPFKit extension of
    /// the corpus syntax, so that every decodable program can be written):
    /// `map_fd N`, `map_value_fd N OFF`, `variable ID FD`, `code T`, `map_idx N`, `map_value_idx N OFF`.
    static func immediate64(_ s: Substring) throws(Reason) -> (Immediate64, LabelReference?) {
        let words = Syntax.words(s)
        guard let kind = words.first else { throw .badImmediate64(String(s)) }
        func args(_ count: Int) throws(Reason) -> [Int32] {
            guard words.count == count + 1 else { throw .badImmediate64(String(s)) }
            var values: [Int32] = []
            for word in words.dropFirst() { values.append(try Syntax.number(word).imm32()) }
            return values
        }
        switch kind.lowercased() {
        case "map_fd": return (.mapByFD(try args(1)[0]), nil)
        case "map_value_fd":
            let a = try args(2)
            return (.mapValueByFD(fd: a[0], offset: UInt32(bitPattern: a[1])), nil)
        case "variable":
            let a = try args(2)
            return (.variable(btfID: a[0], btfFD: a[1]), nil)
        case "map_idx": return (.mapByIndex(try args(1)[0]), nil)
        case "map_value_idx":
            let a = try args(2)
            return (.mapValueByIndex(index: a[0], offset: UInt32(bitPattern: a[1])), nil)
        case "code":
            guard words.count == 2 else { throw .badImmediate64(String(s)) }
            let (offset, reference) = try target(words[1], bits: 32)
            return (.codeAddress(offset: Int32(offset)), reference)
        default:
            guard words.count == 1 else { throw .badImmediate64(String(s)) }
            return (.value(try Syntax.number(s).imm64()), nil)
        }
    }
}
