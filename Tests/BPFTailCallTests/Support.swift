import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import Testing

/// The engines tail calls are tested on: the interpreter and the host's
/// native JIT (x86-64). arm64 is tested under the emulator, in BPFJITArm64Tests.
let engines: [any ExecutionEngine] = {
    var all: [any ExecutionEngine] = [Interpreter()]
    #if arch(x86_64)
    all.append(X86_64JIT())
    #endif
    return all
}()

/// A small assembler for test programs: instructions plus named labels for
/// local calls and jumps (64-bit loads take two slots).
struct Code {
    enum Item {
        case instruction(Instruction)
        case label(String)
        case call(String)
        case jump(String)
        case branch(JumpCondition, Register, Int32, String)
    }
    var items: [Item] = []

    init(@CodeBuilder _ body: () -> [Item]) { items = body() }

    func program(_ name: String = "program") -> Program {
        var slots: [String: Int] = [:]
        var pc = 0
        for item in items {
            switch item {
            case .label(let name): slots[name] = pc
            case .instruction(let i): pc += i.slotCount
            case .call, .jump, .branch: pc += 1
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
            }
            pc += 1
        }
        return Program(out, name: name)
    }
}

@resultBuilder enum CodeBuilder {
    static func buildExpression(_ i: Instruction) -> [Code.Item] { [.instruction(i)] }
    static func buildExpression(_ item: Code.Item) -> [Code.Item] { [item] }
    static func buildExpression(_ items: [Code.Item]) -> [Code.Item] { items }
    static func buildBlock(_ parts: [Code.Item]...) -> [Code.Item] { parts.flatMap { $0 } }
    static func buildArray(_ parts: [[Code.Item]]) -> [Code.Item] { parts.flatMap { $0 } }
    static func buildOptional(_ part: [Code.Item]?) -> [Code.Item] { part ?? [] }
    static func buildEither(first: [Code.Item]) -> [Code.Item] { first }
    static func buildEither(second: [Code.Item]) -> [Code.Item] { second }
}

extension Instruction {
    static func mov(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func add(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .add, dst: d, .immediate(imm)) }
    static func add(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .add, dst: d, .register(s)) }
    static func ldw(_ d: Register, _ s: Register, _ off: Int16) -> Instruction { .load(.word, dst: d, src: s, offset: off) }
    static func stw(_ d: Register, _ off: Int16, _ s: Register) -> Instruction { .store(.word, dst: d, offset: off, src: s) }
    static func stb(_ d: Register, _ off: Int16, _ imm: Int32) -> Instruction { .storeImmediate(.byte, dst: d, offset: off, imm: imm) }
    static let tailCallHelper = Instruction.call(.helper(TailCalls.helperID))
}

extension Code.Item {
    /// `r2 = map k; r3 = index; call bpf_tail_call` (a direct site on the x86 JIT).
    static func tailCall(map: Int32 = 0, index: Int32) -> [Code.Item] {
        [.instruction(.loadImmediate64(dst: .r2, .mapByIndex(map))), .instruction(.mov(.r3, index)), .instruction(.tailCallHelper)]
    }

    /// `r2 = map k; r3 = <register>; call bpf_tail_call` (indirect).
    static func tailCall(map: Int32 = 0, indexIn register: Register) -> [Code.Item] {
        [.instruction(.loadImmediate64(dst: .r2, .mapByIndex(map))), .instruction(.mov(.r3, register)), .instruction(.tailCallHelper)]
    }
}

/// Program arrays and programs of the `mem` type for one engine.
final class Fixture: Sendable {
    let engine: any ExecutionEngine
    let arrays: [ProgramArray]
    let type: any ProgramType

    init(_ engine: any ExecutionEngine, maxEntries: [Int] = [8], type: any ProgramType = ProgramTypes.mem) throws {
        self.engine = engine
        self.type = type
        arrays = try maxEntries.enumerated().map { k, n in
            try #require(try makeMap(MapDefinition(name: "jmp_table\(k)", type: .programArray, keySize: 4, valueSize: 4,
                                                   maxEntries: n)) as? ProgramArray)
        }
    }

    deinit { for array in arrays { array.removeAll() } }

    var array: ProgramArray { arrays[0] }

    func link(_ program: Program) throws -> LinkedProgram {
        try LinkedProgram(program: program, type: type, maps: arrays, options: LoadOptions(trace: { _ in }))
    }

    func prepare(_ program: Program, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> any PreparedProgram {
        let linked = try link(program)
        return try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit))
    }

    func target(_ program: Program) throws -> TailCallTarget {
        try TailCallTargets.make(try link(program), engine: engine)
    }

    /// A target prepared without the loader's passes (which refuse what the
    /// engines must still stop on, such as kfunc calls).
    func unlinkedTarget(_ program: Program) throws -> TailCallTarget {
        let configuration = try link(returns(0)).engineConfiguration()
        let prepared = try engine.prepare(program, configuration: configuration)
        return TailCallTarget(name: program.name, programType: type.name, preparations: [try #require(prepared as? any TailCallable)])
    }

    func set(_ index: Int, _ program: Program, array k: Int = 0) throws {
        try arrays[k].set(try target(program), at: index)
    }

    /// Runs `prepared` over `input`; returns r0 and the input afterwards.
    func run(_ prepared: any PreparedProgram, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
        let run = try type.makeRun(input: input, maps: MapTable(arrays).regions)
        let r0 = try prepared.run(run.input)
        return (r0, run.output())
    }

    func run(_ program: Program, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
        try run(try prepare(program), input: input)
    }
}

/// `r0 = value; exit`.
func returns(_ value: Int32, _ name: String = "leaf") -> Program {
    Program([.mov(.r0, value), .exit], name: name)
}

func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}
