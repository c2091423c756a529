import BPFInterpreter
import BPFISA
import BPFMatrix
import BPFRuntime

// One run of a program on an engine, and the same instructions on a JIT and
// on the interpreter: what the backends' own tests (calls, safety, runaway
// guard, hardening) compare.

/// What a run came to, comparable across engines (the matrix's `MatrixOutcome`).
public typealias Outcome = MatrixOutcome

/// One run on an engine over `memory` (r1 = its address, r2 = its length).
public func outcome(_ program: Program, memory: GuestMemory, on engine: some ExecutionEngine,
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
public func outcome(_ program: Program, memory bytes: [UInt8], on engine: some ExecutionEngine,
                    helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000) -> Outcome {
    outcome(program, memory: GuestMemory(bytes: bytes), on: engine, helpers: helpers, limit: limit)
}

/// `instructions` on `engine` and on `reference` (the interpreter of the
/// engine's byte order) over the same input memory: the same addresses, the
/// bytes reset in between.
public func runOnBoth(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [], limit: UInt64 = 100_000,
                      engine: some ExecutionEngine, reference: Interpreter = Interpreter()) -> (jit: Outcome, interpreter: Outcome) {
    let program = Program(instructions), registry = HelperRegistry(helpers)
    let memory = GuestMemory(bytes: bytes)
    let jit = outcome(program, memory: memory, on: engine, helpers: registry, limit: limit)
    memory.write(bytes, at: 0)
    return (jit, outcome(program, memory: memory, on: reference, helpers: registry, limit: limit))
}
