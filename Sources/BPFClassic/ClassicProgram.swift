/// A classic BPF program: what `setsockopt(SO_ATTACH_FILTER)` takes and
/// `pcap_compile` produces. `init` checks it as the kernel's
/// `bpf_check_classic` does, so every `ClassicProgram` can be translated.
public struct ClassicProgram: Sendable, Hashable {
    public let instructions: [ClassicInstruction]

    /// Checks `instructions` (see `check`) and keeps them.
    public init(_ instructions: [ClassicInstruction]) throws(ClassicError) {
        try Self.check(instructions)
        self.instructions = instructions
    }

    /// Decodes an array of `struct sock_filter` (8 bytes each, little endian
    /// as on the hosts BPFKit runs on) and checks it.
    public init(bytes: [UInt8]) throws(ClassicError) {
        guard !bytes.isEmpty else { throw ClassicError(.program, "empty program: a classic filter needs at least a return") }
        guard bytes.count % 8 == 0 else {
            throw ClassicError(.program, "\(bytes.count) bytes is not a whole number of 8-byte struct sock_filter entries")
        }
        var decoded: [ClassicInstruction] = []
        decoded.reserveCapacity(bytes.count / 8)
        for i in stride(from: 0, to: bytes.count, by: 8) {
            let code = UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
            let k = UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24
            decoded.append(ClassicInstruction(code: code, jt: bytes[i + 2], jf: bytes[i + 3], k: k))
        }
        try self.init(decoded)
    }

    /// Parses the text `tcpdump -ddd` prints (a count line, then
    /// `code jt jf k` in decimal, one instruction a line) or `tcpdump -dd`
    /// prints (`{ 0x28, 0, 0, 0x0000000c },` lines). Blank lines and lines
    /// starting with `#` are skipped. Errors name the line.
    public init(text: String) throws(ClassicError) {
        var decoded: [ClassicInstruction] = []
        var declaredCount: (count: Int, line: Int)?
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { " \t,{}".contains($0) }).map(String.init)
            if fields.count == 1, decoded.isEmpty, declaredCount == nil {
                guard let count = Self.number(fields[0]), count <= UInt64(ClassicInstruction.maxInstructions) else {
                    throw ClassicError(.line(lineNumber), "'\(fields[0])' is not an instruction count (1 to \(ClassicInstruction.maxInstructions))")
                }
                declaredCount = (Int(count), lineNumber)
                continue
            }
            guard fields.count == 4 else {
                throw ClassicError(.line(lineNumber), "expected 'code jt jf k', found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            let limits: [UInt64] = [0xffff, 0xff, 0xff, 0xffff_ffff]
            let names = ["code", "jt", "jf", "k"]
            var values: [UInt64] = []
            for (i, field) in fields.enumerated() {
                guard let value = Self.number(field), value <= limits[i] else {
                    throw ClassicError(.line(lineNumber), "\(names[i]) '\(field)' is not a number from 0 to \(limits[i])")
                }
                values.append(value)
            }
            decoded.append(ClassicInstruction(code: UInt16(values[0]), jt: UInt8(values[1]), jf: UInt8(values[2]), k: UInt32(values[3])))
        }
        if let declaredCount, declaredCount.count != decoded.count {
            throw ClassicError(.line(declaredCount.line), "the count says \(declaredCount.count) instructions; \(decoded.count) follow")
        }
        guard !decoded.isEmpty else { throw ClassicError(.program, "empty program: a classic filter needs at least a return") }
        try self.init(decoded)
    }

    private static func number(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    /// The wire form, 8 bytes per instruction.
    public var bytes: [UInt8] { instructions.flatMap(\.bytes) }

    /// The `tcpdump -ddd` text.
    public var text: String { "\(instructions.count)\n" + instructions.map { "\($0)\n" }.joined() }

    /// The kernel's `bpf_check_classic`: 1 to 4,096 instructions, known
    /// opcodes only, no division or modulo by a constant zero, no shift by 32
    /// or more, memory words 0–15, jumps that land inside the program, a
    /// final return, and no memory word read before it is written on every
    /// path (`check_load_and_stores`).
    public static func check(_ program: [ClassicInstruction]) throws(ClassicError) {
        guard !program.isEmpty else { throw ClassicError(.program, "empty program: a classic filter needs at least a return") }
        guard program.count <= ClassicInstruction.maxInstructions else {
            throw ClassicError(.program, "\(program.count) instructions; classic programs have at most \(ClassicInstruction.maxInstructions)")
        }
        typealias I = ClassicInstruction
        let count = program.count
        for (pc, insn) in program.enumerated() {
            let code = insn.code
            func bad(_ reason: String) -> ClassicError { ClassicError(.instruction(pc), reason) }
            guard code <= 0xff else { throw bad("unknown opcode 0x\(String(code, radix: 16))") }
            switch insn.instructionClass {
            case I.ld:
                switch (insn.mode, insn.size) {
                case (I.abs, _), (I.ind, _):
                    guard insn.size != 0x18 else { throw bad("unknown opcode 0x\(String(code, radix: 16)) (no load size 0x18)") }
                    if insn.mode == I.abs, case .some(let field) = AncillaryField.at(insn.k) {
                        guard let field else { throw bad("unknown ancillary load at offset SKF_AD_OFF + \(insn.k &- AncillaryField.base)") }
                        _ = field
                    }
                case (I.imm, I.w), (I.len, I.w): break
                case (I.mem, I.w):
                    guard insn.k < I.memoryWords else { throw bad("memory word M[\(insn.k)] does not exist (M[0] to M[15])") }
                default: throw bad("unknown opcode 0x\(String(code, radix: 16))")
                }
            case I.ldx:
                switch (insn.mode, insn.size) {
                case (I.imm, I.w), (I.len, I.w), (I.msh, I.b): break
                case (I.mem, I.w):
                    guard insn.k < I.memoryWords else { throw bad("memory word M[\(insn.k)] does not exist (M[0] to M[15])") }
                default: throw bad("unknown opcode 0x\(String(code, radix: 16))")
                }
            case I.st, I.stx:
                guard code & 0xf8 == 0 else { throw bad("unknown opcode 0x\(String(code, radix: 16))") }
                guard insn.k < I.memoryWords else { throw bad("memory word M[\(insn.k)] does not exist (M[0] to M[15])") }
            case I.alu:
                guard code & 0x08 == 0 || insn.operation != I.neg else { throw bad("unknown opcode 0x\(String(code, radix: 16))") }
                switch insn.operation {
                case I.add, I.sub, I.mul, I.or, I.and, I.xor, I.neg: break
                case I.div, I.mod:
                    if insn.source == I.srcK, insn.k == 0 { throw bad("division by the constant zero") }
                case I.lsh, I.rsh:
                    if insn.source == I.srcK, insn.k >= 32 { throw bad("shift by \(insn.k); shifts are 0 to 31") }
                default: throw bad("unknown opcode 0x\(String(code, radix: 16))")
                }
            case I.jmp:
                switch insn.operation {
                case I.ja:
                    guard insn.source == 0 else { throw bad("unknown opcode 0x\(String(code, radix: 16))") }
                    guard UInt64(insn.k) < UInt64(count - pc - 1) else {
                        throw bad("jump to \(UInt64(pc) + 1 + UInt64(insn.k)) is past the last instruction (\(count - 1))")
                    }
                case I.jeq, I.jgt, I.jge, I.jset:
                    for (name, skip) in [("true", insn.jt), ("false", insn.jf)] where pc + 1 + Int(skip) >= count {
                        throw bad("jump if \(name) to \(pc + 1 + Int(skip)) is past the last instruction (\(count - 1))")
                    }
                default: throw bad("unknown opcode 0x\(String(code, radix: 16))")
                }
            case I.ret:
                guard code & 0xe8 == 0, code & 0x18 != 0x18 else { throw bad("unknown opcode 0x\(String(code, radix: 16))") }
                guard code & 0x18 != I.h else { throw bad("unknown opcode 0x\(String(code, radix: 16)) (return X is not classic BPF)") }
            default:  // misc
                guard insn.operation == I.tax || insn.operation == I.txa, code & 0x78 == 0 else {
                    throw bad("unknown opcode 0x\(String(code, radix: 16))")
                }
            }
        }
        guard program[count - 1].instructionClass == I.ret else {
            throw ClassicError(.instruction(count - 1), "the last instruction must be a return (ret #k or ret a); execution could run off the end")
        }
        try checkMemoryWrites(program)
    }

    /// Every memory word is written on every path before it is read (the
    /// kernel's `check_load_and_stores`; jumps only go forward, so one pass does).
    static func checkMemoryWrites(_ program: [ClassicInstruction]) throws(ClassicError) {
        typealias I = ClassicInstruction
        var masks = [UInt16](repeating: 0xffff, count: program.count)
        var valid: UInt16 = 0
        for (pc, insn) in program.enumerated() {
            valid &= masks[pc]
            switch insn.code {
            case I.st, I.stx:
                valid |= 1 << insn.k
            case I.ld | I.mem, I.ldx | I.w | I.mem:
                guard valid & (1 << insn.k) != 0 else {
                    throw ClassicError(.instruction(pc), "M[\(insn.k)] is read before it is written on some path")
                }
            case I.jmp | I.ja:
                masks[pc + 1 + Int(insn.k)] &= valid
                valid = 0xffff
            case _ where insn.instructionClass == I.jmp:
                masks[pc + 1 + Int(insn.jt)] &= valid
                masks[pc + 1 + Int(insn.jf)] &= valid
                valid = 0xffff
            case _ where insn.instructionClass == I.ret:
                valid = 0xffff
            default:
                break
            }
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> Substring {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return s
    }
}
