extension ClassicInstruction {
    /// The instruction as `tcpdump -d` prints it (without the `(000)` index),
    /// jump targets absolute from `pc`.
    public func disassembled(at pc: Int) -> String {
        typealias I = ClassicInstruction
        func pad(_ mnemonic: String, _ operand: String) -> String {
            operand.isEmpty ? mnemonic : mnemonic.padding(toLength: 9) + operand
        }
        let sizeSuffix = size == I.h ? "h" : size == I.b ? "b" : ""
        switch instructionClass {
        case I.ld, I.ldx:
            let x = instructionClass == I.ldx ? "x" : ""
            switch mode {
            case I.imm: return pad("ld\(x)", "#0x\(String(k, radix: 16))")
            case I.len: return pad("ld\(x)", "#pktlen")
            case I.mem: return pad("ld\(x)", "M[\(k)]")
            case I.msh: return pad("ldxb", "4*([\(k)]&0xf)")
            case I.abs:
                if case .some(let field) = AncillaryField.at(k) {
                    return pad("ld\(sizeSuffix)", field.map { "#\($0.name)" } ?? "[\(Int32(bitPattern: k))]")
                }
                return pad("ld\(sizeSuffix)", "[\(k)]")
            default: return pad("ld\(sizeSuffix)", "[x + \(k)]")
            }
        case I.st: return pad("st", "M[\(k)]")
        case I.stx: return pad("stx", "M[\(k)]")
        case I.alu:
            let names: [UInt16: String] = [I.add: "add", I.sub: "sub", I.mul: "mul", I.div: "div", I.or: "or", I.and: "and",
                                           I.lsh: "lsh", I.rsh: "rsh", I.neg: "neg", I.mod: "mod", I.xor: "xor"]
            let name = names[operation] ?? "alu?"
            if operation == I.neg { return "neg" }
            return pad(name, source == I.srcX ? "x" : "#0x\(String(k, radix: 16))")
        case I.jmp:
            if operation == I.ja { return pad("ja", "\(pc + 1 + Int(k))") }
            let names: [UInt16: String] = [I.jeq: "jeq", I.jgt: "jgt", I.jge: "jge", I.jset: "jset"]
            let operand = source == I.srcX ? "x" : "#0x\(String(k, radix: 16))"
            return pad(names[operation] ?? "j?", "\(operand)".padding(toLength: 10) + "jt \(pc + 1 + Int(jt))\tjf \(pc + 1 + Int(jf))")
        case I.ret:
            return pad("ret", code & 0x18 == I.retA ? "a" : "#\(k)")
        default:
            return operation == I.txa ? "txa" : "tax"
        }
    }
}

extension ClassicProgram {
    /// The whole program as `tcpdump -d` prints it: `(000) ldh      [12]`.
    public var disassembly: String {
        instructions.enumerated().map { pc, insn in
            let index = String(pc)
            return "(" + String(repeating: "0", count: max(0, 3 - index.count)) + index + ") " + insn.disassembled(at: pc) + "\n"
        }.joined()
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
