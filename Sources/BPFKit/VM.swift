import BPFISA
import BPFHelpers
import BPFLoader
import BPFRuntime

/// The result of one run.
public struct RunResult: Sendable {
    /// r0 at exit.
    public var returnValue: UInt64
    /// The input as the program left it (`mem`), or the packet (`xdp`), as the
    /// kernel's test run returns it.
    public var output: [UInt8]
}

/// A program prepared for one engine, ready to run many times from any thread.
///
/// This is the embedding API: build or load a `Program`, make a
/// `LoadedProgram`, call `run(input:)`.
///
///     let program = try Assembler.assemble("mov %r0, 42\nexit")
///     let loaded = try LoadedProgram(program, engine: .interpreter)
///     let r0 = try loaded.run(input: []).returnValue   // 42
public final class LoadedProgram: Sendable {
    public let linked: LinkedProgram
    public let engineName: String
    public let prepared: any PreparedProgram

    /// Prepares a linked program (from `ProgramFile` or `BPFLoader`) for an engine.
    public init(_ linked: LinkedProgram, engine: EngineKind = .interpreter, architecture: Architecture? = nil,
                instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws {
        let engine = try EngineCatalog.engine(engine, architecture: architecture)
        self.linked = linked
        self.engineName = engine.name
        self.prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: instructionLimit))
    }

    /// Prepares a bare program as the `mem` type (r1 = input, r2 = its length)
    /// with the kernel's helpers and `helpers` over them.
    public convenience init(_ program: Program, engine: EngineKind = .interpreter, architecture: Architecture? = nil,
                            helpers: HelperRegistry = HelperRegistry(),
                            instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws {
        let linked = try LinkedProgram(program: program, type: ProgramTypes.mem, options: LoadOptions(extraHelpers: helpers))
        try self.init(linked, engine: engine, architecture: architecture, instructionLimit: instructionLimit)
    }

    public var program: Program { linked.program }

    /// Runs once over `input`.
    public func run(input: [UInt8]) throws -> RunResult {
        let run = try linked.makeRun(input: input)
        let r0 = try prepared.run(run.input)
        return RunResult(returnValue: r0, output: run.output())
    }

    /// Runs `count` times over fresh copies of `input`, timing only the runs
    /// themselves; returns the last result and the mean nanoseconds per run.
    public func measure(input: [UInt8], count: Int) throws -> (result: RunResult, meanNanoseconds: UInt64) {
        var total: UInt64 = 0
        var last = RunResult(returnValue: 0, output: input)
        for _ in 0..<max(count, 1) {
            let run = try linked.makeRun(input: input)
            let start = ContinuousClock.now
            let r0 = try prepared.run(run.input)
            let elapsed = ContinuousClock.now - start
            total += UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
            last = RunResult(returnValue: r0, output: run.output())
        }
        return (last, total / UInt64(max(count, 1)))
    }
}
