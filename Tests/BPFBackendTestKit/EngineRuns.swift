import BPFInterpreter
import BPFISA
import BPFMatrix
import BPFRuntime

// One run of a program on an engine, and the same instructions on a JIT and
// on the interpreter: what the backends' own tests (calls, safety, runaway
// guard, hardening) compare.

/// What a run came to, comparable across engines (the matrix's `MatrixOutcome`).
public typealias Outcome = MatrixOutcome

/// The configuration the kit's runs prepare with: `hardened` blinds constants
/// (`JITBlinding`) on the JITs.
public func engineConfiguration(helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000,
                                hardened: Bool = false) -> EngineConfiguration {
    var configuration = EngineConfiguration(helpers: helpers, instructionLimit: limit)
    configuration.hardened = hardened
    return configuration
}

/// One run on an engine over `memory` (r1 = its address, r2 = its length).
public func outcome(_ program: Program, memory: GuestMemory, on engine: some ExecutionEngine,
                    helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000, hardened: Bool = false) -> Outcome {
    let prepared: any PreparedProgram
    do {
        prepared = try engine.prepare(program, configuration: engineConfiguration(helpers: helpers, limit: limit, hardened: hardened))
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
                    helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000, hardened: Bool = false) -> Outcome {
    outcome(program, memory: GuestMemory(bytes: bytes), on: engine, helpers: helpers, limit: limit, hardened: hardened)
}

/// Whether `bytes` hold `value` as four little-endian bytes at any offset
/// (a constant an image carries whole).
public func containsWord(_ bytes: [UInt8], _ value: UInt32) -> Bool {
    guard bytes.count >= 4 else { return false }
    return (0...(bytes.count - 4)).contains {
        UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24 == value
    }
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
