import BPFISA

/// Assembles the text syntax of the eBPF conformance corpus
/// (`mov32 %r0, 0`, `ldxh %r0, [%r1+2]`, `jne %r0, %r1, label`, `lock fetch add [%r10-8], %r1`).
///
/// One instruction per line; `#` starts a comment; `name:` defines a label
/// (an instruction may follow it on the same line). Jump and call targets are
/// labels or signed slot offsets (`+3`, `-1`). As in the bpf_conformance
/// assembler, the label `exit`, unless the text defines it, means the first
/// `exit` instruction. Numbers are decimal or `0x` hexadecimal, optionally
/// negative; every field is range-checked, never truncated.
public struct Assembler {
    /// Assembles `text` into a program; the first bad line throws, naming its
    /// 1-based line number in `text`.
    public static func assemble(_ text: String, name: String = "program") throws(AssemblyError) -> Program {
        Program(try assembleInstructions(text), name: name)
    }

    /// Assembles `text` into raw slots (a 64-bit immediate load gives two).
    public static func assembleRaw(_ text: String) throws(AssemblyError) -> [RawInstruction] {
        try assembleInstructions(text).flatMap(\.encoded)
    }

    /// Assembles `text` into its wire form.
    public static func assembleBytes(_ text: String, byteOrder: ByteOrder = .little) throws(AssemblyError) -> [UInt8] {
        try assembleRaw(text).flatMap { $0.bytes(byteOrder) }
    }

    /// Two passes: the first parses every line in order (so the first bad line
    /// is the one reported) and places labels; the second fills in label offsets.
    static func assembleInstructions(_ text: String) throws(AssemblyError) -> [Instruction] {
        var pass = FirstPass()
        var lineCount = 0
        // Split on every line break: Swift reads "\r\n" as one Character, so
        // splitting on "\n" alone would leave CRLF files in one piece.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            lineCount = index + 1
            do {
                try pass.read(line, number: index + 1)
            } catch {
                throw AssemblyError(line: index + 1, text: String(line), reason: error)
            }
        }
        guard !pass.statements.isEmpty else {
            throw AssemblyError(line: max(1, lineCount), text: "", reason: .noInstructions)
        }
        var instructions: [Instruction] = []
        instructions.reserveCapacity(pass.statements.count)
        for statement in pass.statements {
            do {
                instructions.append(try pass.resolve(statement))
            } catch {
                throw AssemblyError(line: statement.line, text: String(statement.text), reason: error)
            }
        }
        return instructions
    }
}

/// A jump, local call or code-address load whose offset waits for a label.
struct LabelReference {
    var label: String
    /// Width of the offset field: 16 (jumps) or 32 (ja32, call local, lddw code).
    var bits: Int
}

/// One assembled line, its label reference not yet resolved.
struct Statement {
    var line: Int
    var text: Substring
    var slot: Int
    var instruction: Instruction
    var reference: LabelReference?
}

/// The state of the first pass: statements so far, labels, the slot counter.
struct FirstPass {
    typealias Reason = AssemblyError.Reason

    var statements: [Statement] = []
    var labels: [String: (slot: Int, line: Int)] = [:]
    /// Slot of the first `exit`, which the label `exit` means unless defined.
    var firstExit: Int?
    var slot = 0

    mutating func read(_ line: Substring, number: Int) throws(Reason) {
        var code = line
        if let hash = code.firstIndex(of: "#") { code = code[..<hash] }
        code = Syntax.trimmed(code)
        // Labels: leading words ending in ':'.
        while true {
            let (word, rest) = Syntax.firstWord(code)
            guard word.hasSuffix(":") else { break }
            let name = word.dropLast()
            guard Syntax.isLabel(name) else { throw .badLabel(String(name)) }
            if let previous = labels[String(name)] { throw .duplicateLabel(String(name), firstLine: previous.line) }
            labels[String(name)] = (slot, number)
            code = rest
        }
        guard !code.isEmpty else { return }

        let (mnemonic, operandText) = try Self.mnemonic(of: code)
        guard let form = Mnemonics.forms[mnemonic] else { throw .unknownMnemonic(mnemonic) }
        var operands: [Substring] = []
        if !operandText.isEmpty {
            operands = operandText.split(separator: ",", omittingEmptySubsequences: false).map(Syntax.trimmed)
            if operands.contains(where: \.isEmpty) { throw .emptyOperand(mnemonic: mnemonic) }
        }
        let (instruction, reference) = try Encoder.encode(form, mnemonic: mnemonic, operands: operands)
        if instruction == .exit, firstExit == nil { firstExit = slot }
        statements.append(Statement(line: number, text: line, slot: slot, instruction: instruction, reference: reference))
        slot += instruction.slotCount
    }

    /// The table key of a line (`lock` phrases take two or three words) and its operand text.
    static func mnemonic(of code: Substring) throws(Reason) -> (String, Substring) {
        let (first, rest) = Syntax.firstWord(code)
        let mnemonic = first.lowercased()
        guard mnemonic == "lock" else { return (mnemonic, rest) }
        var (operation, operands) = Syntax.firstWord(rest)
        var phrase = "lock "
        if operation.lowercased() == "fetch" {
            phrase += "fetch "
            (operation, operands) = Syntax.firstWord(operands)
        }
        guard !operation.isEmpty else {
            throw .operandCount(mnemonic: "lock", expected: "an operation and 2 operands", found: 0)
        }
        phrase += operation.lowercased()
        guard Mnemonics.forms[phrase] != nil else { throw .unknownAtomicOperation(String(operation)) }
        return (phrase, operands)
    }

    /// The instruction with its label offset filled in.
    func resolve(_ statement: Statement) throws(Reason) -> Instruction {
        guard let reference = statement.reference else { return statement.instruction }
        let target: Int
        if let label = labels[reference.label] {
            target = label.slot
        } else if reference.label == "exit", let firstExit {
            target = firstExit
        } else {
            throw .undefinedLabel(reference.label)
        }
        let distance = target - (statement.slot + 1)
        let limit = 1 << (reference.bits - 1)
        guard distance >= -limit, distance < limit else {
            throw .labelOutOfRange(reference.label, distance: distance, field: "\(reference.bits)-bit offset")
        }
        return statement.instruction.withOffset(Int32(distance))
    }
}

extension Instruction {
    /// The same jump, local call or code-address load with another offset
    /// (the caller has checked that it fits the field).
    func withOffset(_ offset: Int32) -> Instruction {
        switch self {
        case .jump: .jump(offset: Int16(offset))
        case .jumpLong: .jumpLong(offset: offset)
        case .branch(let w, let c, let dst, let src, _): .branch(w, c, dst: dst, src, offset: Int16(offset))
        case .call(.local): .call(.local(offset: offset))
        case .loadImmediate64(let dst, .codeAddress): .loadImmediate64(dst: dst, .codeAddress(offset: offset))
        default: self
        }
    }
}
