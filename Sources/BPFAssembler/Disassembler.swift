import BPFISA

/// The text syntax a disassembly is printed in.
public enum DisassemblyStyle: Sendable, Hashable, CaseIterable {
    /// The conformance-corpus syntax `Assembler` reads (`ldxh %r0, [%r1+2]`);
    /// re-assembling it gives back the identical bytes.
    case conformance
    /// What `llvm-objdump -d --mcpu=v4` prints for BPF objects (`w0 = *(u16 *)(r1 + 0x2)`).
    case llvm
}

/// Typed instructions to text.
public struct Disassembler {
    /// One instruction. Jump and call targets are printed as offsets relative
    /// to the next slot (`pc` is where the instruction sits; the text does not
    /// depend on it, since both syntaxes print relative offsets). The tail slot
    /// of a 64-bit immediate load prints as the empty string.
    public static func text(of instruction: Instruction, at pc: Int, style: DisassemblyStyle) -> String {
        switch style {
        case .conformance: conformanceText(of: instruction, targetLabel: nil)
        case .llvm: llvmText(of: instruction)
        }
    }

    /// A whole program, one line per instruction (tail slots print nothing),
    /// each line ending in a newline.
    ///
    /// In the conformance style, targets inside the program become labels
    /// (`L7:`, or `fn7:` for local functions) on lines of their own; targets
    /// outside it stay offsets, so that any decodable program re-assembles to
    /// the same bytes. The LLVM style prints offsets, as `llvm-objdump` does.
    /// `comments`: each helper call ends in `# ` and the kernel's name of
    /// the helper (`# bpf_get_current_pid_tgid`); both syntaxes read `#` as
    /// a comment, so the text still assembles to the same bytes.
    public static func disassemble(_ program: Program, style: DisassemblyStyle, comments: Bool = false) -> String {
        let text = disassemble(program, style: style)
        guard comments else { return text }
        return annotate(text, program.instructions)
    }

    /// The comment a listing may add after an instruction: the kernel's name of a called helper.
    public static func comment(for instruction: Instruction) -> String? {
        guard case .call(.helper(let id)) = instruction else { return nil }
        return KernelHelperNames.name(of: id)
    }

    /// Appends `comment(for:)` to each instruction's line of `text`.
    private static func annotate(_ text: String, _ instructions: [Instruction]) -> String {
        var remaining = instructions.filter { $0 != .immediate64Tail }[...]
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // Label lines (`L7:`, `fn7:`) stand for no instruction.
            if line.isEmpty || (line.hasSuffix(":") && !line.contains(" ")) { lines.append(String(line)); continue }
            guard let instruction = remaining.popFirst() else { lines.append(String(line)); continue }
            lines.append(comment(for: instruction).map { "\(line)  # \($0)" } ?? String(line))
        }
        return lines.joined(separator: "\n")
    }

    private static func disassemble(_ program: Program, style: DisassemblyStyle) -> String {
        let instructions = program.instructions
        var lines: [String] = []
        switch style {
        case .llvm:
            for instruction in instructions where instruction != .immediate64Tail {
                lines.append(llvmText(of: instruction))
            }
        case .conformance:
            let labels = labelNames(instructions)
            for (pc, instruction) in instructions.enumerated() where instruction != .immediate64Tail {
                if let label = labels[pc] { lines.append(label + ":") }
                let label = instruction.target(at: pc).flatMap { labels[$0] }
                lines.append(conformanceText(of: instruction, targetLabel: label))
            }
            if let label = labels[instructions.count] { lines.append(label + ":") }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// Labels for every slot a jump, local call or code-address load reaches,
    /// where a label can stand: an instruction's first slot, or just past the end.
    static func labelNames(_ instructions: [Instruction]) -> [Int: String] {
        var labels: [Int: String] = [:]
        for (pc, instruction) in instructions.enumerated() {
            guard let target = instruction.target(at: pc), target >= 0, target <= instructions.count,
                  target == instructions.count || instructions[target] != .immediate64Tail else { continue }
            let isFunction: Bool = switch instruction {
            case .call(.local), .loadImmediate64(_, .codeAddress): true
            default: false
            }
            if isFunction || labels[target] == nil { labels[target] = (isFunction ? "fn" : "L") + String(target) }
        }
        return labels
    }
}

// MARK: - Conformance style

extension Disassembler {
    /// `targetLabel` names the instruction's target; nil prints the offset instead.
    static func conformanceText(of instruction: Instruction, targetLabel: String?) -> String {
        guard let form = MnemonicForm(instruction), let name = Mnemonics.names[form] else { return "" }
        func target(_ offset: Int64) -> String { targetLabel ?? signed(offset) }
        switch instruction {
        case .alu(_, _, let dst, let src):
            return "\(name) \(reg(dst)), \(operand(src))"
        case .neg(_, let dst), .byteSwap(_, let dst, _):
            return "\(name) \(reg(dst))"
        case .movsx(_, let dst, let src, _):
            return "\(name) \(reg(dst)), \(reg(src))"
        case .jump(let offset):
            return "\(name) \(target(Int64(offset)))"
        case .jumpLong(let offset):
            return "\(name) \(target(Int64(offset)))"
        case .branch(_, _, let dst, let src, let offset):
            return "\(name) \(reg(dst)), \(operand(src)), \(target(Int64(offset)))"
        case .call(.helper(let id)):
            return "\(name) \(immediate(id))"
        case .call(.local(let offset)):
            return "\(name) local \(target(Int64(offset)))"
        case .call(.kfunc(let id)):
            return "\(name) runtime \(immediate(id))"
        case .call(.register(let r)):
            return "\(name) \(reg(r))"
        case .exit, .immediate64Tail:
            return name
        case .loadImmediate64(let dst, let value):
            return "\(name) \(reg(dst)), \(immediate64(value, target: target))"
        case .load(_, let dst, let src, let offset), .loadSignExtend(_, let dst, let src, let offset):
            return "\(name) \(reg(dst)), \(memory(src, offset))"
        case .storeImmediate(_, let dst, let offset, let imm):
            return "\(name) \(memory(dst, offset)), \(immediate(imm))"
        case .store(_, let dst, let offset, let src), .atomic(_, _, let dst, let offset, let src):
            return "\(name) \(memory(dst, offset)), \(reg(src))"
        }
    }

    static func reg(_ r: Register) -> String { "%r\(r.rawValue)" }

    static func operand(_ o: Operand) -> String {
        switch o {
        case .register(let r): reg(r)
        case .immediate(let imm): immediate(imm)
        }
    }

    /// Small values in decimal, large ones as their 32-bit pattern in hex
    /// (`0x80000000`): both assemble back to the same field.
    static func immediate(_ imm: Int32) -> String {
        abs(Int64(imm)) < 0x10000 ? String(imm) : "0x" + String(UInt32(bitPattern: imm), radix: 16)
    }

    static func signed(_ offset: Int64) -> String { offset < 0 ? String(offset) : "+" + String(offset) }

    static func memory(_ base: Register, _ offset: Int16) -> String {
        offset == 0 ? "[\(reg(base))]" : "[\(reg(base))\(signed(Int64(offset)))]"
    }

    static func immediate64(_ value: Immediate64, target: (Int64) -> String) -> String {
        switch value {
        case .value(let v):
            let s = Int64(bitPattern: v)
            return s > -0x10000 && s < 0x10000 ? String(s) : "0x" + String(v, radix: 16)
        case .mapByFD(let fd): return "map_fd \(immediate(fd))"
        case .mapValueByFD(let fd, let offset): return "map_value_fd \(immediate(fd)) \(immediate(Int32(bitPattern: offset)))"
        case .variable(let id, let fd): return "variable \(immediate(id)) \(immediate(fd))"
        case .codeAddress(let offset): return "code \(target(Int64(offset)))"
        case .mapByIndex(let index): return "map_idx \(immediate(index))"
        case .mapValueByIndex(let index, let offset): return "map_value_idx \(immediate(index)) \(immediate(Int32(bitPattern: offset)))"
        }
    }
}
