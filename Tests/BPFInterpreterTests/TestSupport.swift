import BPFISA
import BPFInterpreter
import BPFRuntime

/// Shorthands for building programs in tests.
enum Asm {
    static func lddw(_ dst: Register, _ value: UInt64) -> Instruction { .loadImmediate64(dst: dst, .value(value)) }
    static func mov(_ dst: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: dst, .immediate(imm)) }
    static func mov(_ dst: Register, _ src: Register) -> Instruction { .alu(.w64, .mov, dst: dst, .register(src)) }
    static func alu64(_ op: ALUOperation, _ dst: Register, _ imm: Int32) -> Instruction { .alu(.w64, op, dst: dst, .immediate(imm)) }
    static func alu64(_ op: ALUOperation, _ dst: Register, _ src: Register) -> Instruction { .alu(.w64, op, dst: dst, .register(src)) }
    static func alu32(_ op: ALUOperation, _ dst: Register, _ imm: Int32) -> Instruction { .alu(.w32, op, dst: dst, .immediate(imm)) }
    static func alu32(_ op: ALUOperation, _ dst: Register, _ src: Register) -> Instruction { .alu(.w32, op, dst: dst, .register(src)) }
    static func jmp(_ c: JumpCondition, _ dst: Register, _ imm: Int32, _ offset: Int16) -> Instruction {
        .branch(.w64, c, dst: dst, .immediate(imm), offset: offset)
    }
    static func jmp(_ c: JumpCondition, _ dst: Register, _ src: Register, _ offset: Int16) -> Instruction {
        .branch(.w64, c, dst: dst, .register(src), offset: offset)
    }
}

/// Prepares and runs programs on the interpreter with an input region.
struct Harness {
    var helpers = HelperRegistry()
    var instructionLimit = ExecutionLimits.defaultInstructionLimit

    func prepare(_ instructions: [Instruction]) throws -> any PreparedProgram {
        try Interpreter().prepare(Program(instructions),
                                  configuration: EngineConfiguration(helpers: helpers, instructionLimit: instructionLimit))
    }

    /// Runs with `memory` as the input (r1 = its address, r2 = its length).
    func run(_ instructions: [Instruction], memory: GuestMemory = GuestMemory(count: 0), writable: Bool = true) throws -> UInt64 {
        try run(prepare(instructions), memory: memory, writable: writable)
    }

    func run(_ prepared: any PreparedProgram, memory: GuestMemory, writable: Bool = true) throws -> UInt64 {
        try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                  regions: MemoryRegions([memory.region(.input, writable: writable)])))
    }

    /// The error a run stops with, or nil if it completes.
    func failure(_ instructions: [Instruction], memory: GuestMemory = GuestMemory(count: 0), writable: Bool = true) throws -> ExecutionError? {
        let prepared = try prepare(instructions)
        do {
            _ = try run(prepared, memory: memory, writable: writable)
            return nil
        } catch let error as ExecutionError {
            return error
        }
    }
}

/// Shorthand: run on a fresh interpreter with no helpers.
func run(_ instructions: [Instruction], memory: GuestMemory = GuestMemory(count: 0)) throws -> UInt64 {
    try Harness().run(instructions, memory: memory)
}
