import BPFInterpreter
import BPFISA
import BPFJITMIPS32
import BPFRuntime

/// What a run came to, comparable across engines.
enum Outcome: Equatable, CustomStringConvertible {
    case value(UInt64), failure(ExecutionError), notPrepared(String)

    var description: String {
        switch self {
        case .value(let v): "0x" + String(v, radix: 16)
        case .failure(let e): "\(e)"
        case .notPrepared(let why): "not prepared: \(why)"
        }
    }
}

/// One run on an engine over `memory` (r1 = its address, r2 = its length).
func outcome(_ program: Program, memory: GuestMemory, on engine: some ExecutionEngine,
             helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000) -> Outcome {
    let prepared: any PreparedProgram
    do {
        prepared = try engine.prepare(program, configuration: EngineConfiguration(helpers: helpers, instructionLimit: limit))
    } catch {
        return .notPrepared("\(error)")
    }
    do {
        return .value(try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                                regions: MemoryRegions([memory.region(.input)]))))
    } catch {
        return .failure(error)
    }
}

/// One run on an engine over a fresh copy of `bytes`.
func outcome(_ program: Program, memory bytes: [UInt8], on engine: some ExecutionEngine,
             helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000) -> Outcome {
    outcome(program, memory: GuestMemory(bytes: bytes), on: engine, helpers: helpers, limit: limit)
}

/// Runs on the MIPS32 JIT (emulated, little endian unless asked) and on the
/// interpreter of the same byte order over the same input memory (the
/// bytes reset in between).
func bothEngines(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [],
                 limit: UInt64 = 100_000, bigEndian: Bool = false) -> (jit: Outcome, interpreter: Outcome) {
    let program = Program(instructions), registry = HelperRegistry(helpers)
    let memory = GuestMemory(bytes: bytes)
    let jit = outcome(program, memory: memory, on: MIPS32JIT(bigEndian: bigEndian), helpers: registry, limit: limit)
    memory.write(bytes, at: 0)
    return (jit, outcome(program, memory: memory, on: Interpreter(byteOrder: bigEndian ? .big : .little), helpers: registry, limit: limit))
}

extension Instruction {
    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov64(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func ld64(_ d: Register, _ v: UInt64) -> Instruction { .loadImmediate64(dst: d, .value(v)) }
}
