import BPFISA
import BPFRuntime

/// The result of one run.
public struct RunResult: Sendable {
    /// r0 at exit.
    public var returnValue: UInt64
    /// The input memory as the program left it.
    public var memory: [UInt8]
}

/// A program prepared for one engine, ready to run many times from any thread.
///
/// This is the embedding API: build or load a `Program`, make a
/// `LoadedProgram`, call `run(memory:)`.
///
///     let program = try Assembler.assemble("mov %r0, 42\nexit")
///     let loaded = try LoadedProgram(program, engine: .interpreter)
///     let r0 = try loaded.run(memory: []).returnValue   // 42
public final class LoadedProgram: Sendable {
    public let program: Program
    public let engineName: String
    private let prepared: any PreparedProgram

    public init(_ program: Program, engine: EngineKind = .interpreter, architecture: Architecture? = nil,
                helpers: HelperRegistry = HelperRegistry(),
                instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws {
        let engine = try EngineCatalog.engine(engine, architecture: architecture)
        self.program = program
        self.engineName = engine.name
        self.prepared = try engine.prepare(program, configuration: EngineConfiguration(helpers: helpers, instructionLimit: instructionLimit))
    }

    /// Runs with r1 = the address of a copy of `memory` and r2 = its length
    /// (the conformance convention and the `mem` program type).
    public func run(memory: [UInt8]) throws(ExecutionError) -> RunResult {
        let guest = GuestMemory(bytes: memory)
        let r0 = try run(guest)
        return RunResult(returnValue: r0, memory: guest.read())
    }

    /// Runs on memory the caller owns (no copy in or out): for repeated runs.
    public func run(_ guest: GuestMemory) throws(ExecutionError) -> UInt64 {
        let input = RunInput(r1: guest.count == 0 ? 0 : guest.address, r2: UInt64(guest.count),
                             regions: MemoryRegions([guest.region(.input)]))
        return try prepared.run(input)
    }
}
