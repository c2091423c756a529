import BPFISA

/// A small assembler for test programs: instructions plus named labels for
/// local calls and jumps (64-bit loads take two slots).
public struct Code: Sendable {
    public enum Item: Sendable {
        case instruction(Instruction)
        case label(String)
        case call(String)
        case jump(String)
        /// `if dst <condition> imm goto label`, 64-bit.
        case branch(JumpCondition, Register, Int32, String)
        /// Any conditional jump: width, condition, register, operand, label.
        case compare(Width, JumpCondition, Register, Operand, String)

        /// An instruction (short for `.instruction`).
        public static func i(_ instruction: Instruction) -> Item { .instruction(instruction) }
    }
    public var items: [Item] = []

    public init(@CodeBuilder _ body: () -> [Item]) { items = body() }
    public init(items: [Item]) { self.items = items }

    /// The instructions of `items`, labels resolved.
    public static func assemble(_ items: [Item]) -> [Instruction] { Code(items: items).program().instructions }

    public func program(_ name: String = "program") -> Program {
        var slots: [String: Int] = [:]
        var pc = 0
        for item in items {
            switch item {
            case .label(let name): slots[name] = pc
            case .instruction(let i): pc += i.slotCount
            case .call, .jump, .branch, .compare: pc += 1
            }
        }
        var out: [Instruction] = []
        pc = 0
        for item in items {
            switch item {
            case .label: continue
            case .instruction(let i): out.append(i); pc += i.slotCount; continue
            case .call(let l): out.append(.call(.local(offset: Int32(slots[l]! - pc - 1))))
            case .jump(let l): out.append(.jump(offset: Int16(slots[l]! - pc - 1)))
            case .branch(let c, let r, let imm, let l):
                out.append(.branch(.w64, c, dst: r, .immediate(imm), offset: Int16(slots[l]! - pc - 1)))
            case .compare(let w, let c, let r, let operand, let l):
                out.append(.branch(w, c, dst: r, operand, offset: Int16(slots[l]! - pc - 1)))
            }
            pc += 1
        }
        return Program(out, name: name)
    }
}

@resultBuilder public enum CodeBuilder {
    public static func buildExpression(_ i: Instruction) -> [Code.Item] { [.instruction(i)] }
    public static func buildExpression(_ item: Code.Item) -> [Code.Item] { [item] }
    public static func buildExpression(_ items: [Code.Item]) -> [Code.Item] { items }
    public static func buildBlock(_ parts: [Code.Item]...) -> [Code.Item] { parts.flatMap { $0 } }
    public static func buildArray(_ parts: [[Code.Item]]) -> [Code.Item] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [Code.Item]?) -> [Code.Item] { part ?? [] }
    public static func buildEither(first: [Code.Item]) -> [Code.Item] { first }
    public static func buildEither(second: [Code.Item]) -> [Code.Item] { second }
}

extension Instruction {
    public static func mov(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    public static func mov(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    public static func add(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .add, dst: d, .immediate(imm)) }
    public static func add(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .add, dst: d, .register(s)) }
    public static func ldw(_ d: Register, _ s: Register, _ off: Int16) -> Instruction { .load(.word, dst: d, src: s, offset: off) }
    public static func stw(_ d: Register, _ off: Int16, _ s: Register) -> Instruction { .store(.word, dst: d, offset: off, src: s) }
    public static func stb(_ d: Register, _ off: Int16, _ imm: Int32) -> Instruction { .storeImmediate(.byte, dst: d, offset: off, imm: imm) }
    public static let tailCallHelper = Instruction.call(.helper(12))
}

extension Code.Item {
    /// `r2 = map k; r3 = index; call bpf_tail_call` (a direct site on the x86 JIT).
    public static func tailCall(map: Int32 = 0, index: Int32) -> [Code.Item] {
        [.instruction(.loadImmediate64(dst: .r2, .mapByIndex(map))), .instruction(.mov(.r3, index)), .instruction(.tailCallHelper)]
    }

    /// `r2 = map k; r3 = <register>; call bpf_tail_call` (indirect).
    public static func tailCall(map: Int32 = 0, indexIn register: Register) -> [Code.Item] {
        [.instruction(.loadImmediate64(dst: .r2, .mapByIndex(map))), .instruction(.mov(.r3, register)), .instruction(.tailCallHelper)]
    }
}
