import BPFISA
import BPFMaps
import BPFHelpers
import BPFLoader
import BPFRuntime
import BPFVerifier

/// The result of one run.
public struct RunResult: Sendable {
    /// r0 at exit.
    public var returnValue: UInt64
    /// The input as the program left it (`mem`), or the packet (`xdp`), as the
    /// kernel's test run returns it.
    public var output: [UInt8]
    /// The action r0 stands for in the program type (`XDP_REDIRECT`), if it has actions.
    public var verdict: String?
    /// For a redirect, where the packet goes (`bpf_redirect`, `bpf_redirect_map`):
    /// the forwarding decision. nil for other verdicts, and for a redirect
    /// without a target (the kernel drops such a packet).
    public var redirect: RedirectTarget?

    public init(returnValue: UInt64, output: [UInt8], verdict: String? = nil, redirect: RedirectTarget? = nil) {
        self.returnValue = returnValue
        self.output = output
        self.verdict = verdict
        self.redirect = redirect
    }

    init(returnValue: UInt64, run: any ProgramRun) {
        self.init(returnValue: returnValue, output: run.output(), verdict: run.verdict(returnValue: returnValue),
                  redirect: run.redirect(returnValue: returnValue))
    }
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
    /// The engine the program was prepared for.
    public let engine: any ExecutionEngine
    /// The object the program came from, when it came from one: its maps,
    /// and the programs its program arrays can hold.
    public let object: LoadedObject?
    private let instructionLimit: UInt64
    /// Whether the program and the targets its program arrays get from this
    /// preparation are compiled with constant blinding.
    public let hardened: Bool
    /// The byte order of the engine's memory, in which each run's context is laid out.
    public let byteOrder: ByteOrder

    /// Prepares a linked program (from `ProgramFile` or `BPFLoader`) for an
    /// engine. With its `object`, the program arrays the object initialises
    /// statically are filled first with the object's programs prepared for
    /// the same engine (libbpf fills them at load time), and entries can be
    /// set from the host by program name (`setTailCall`).
    ///
    /// `hardened`: JITs blind every constant the program chooses, so none
    /// appears in executable memory (`EngineConfiguration.hardened`, the
    /// kernel's `bpf_jit_harden`); the interpreter ignores it. The program's
    /// load policy may harden it too (`VerifierPolicy.hardensByDefault`).
    /// Either way, the targets placed in its object's program arrays (here
    /// and by `setTailCall`) are hardened as well.
    ///
    /// `byteOrder` is the order of the engine's memory. Left out, the
    /// interpreter takes the program's (big-endian for a `bpfeb` object) and
    /// a JIT its target's; a program compiled for the other order than the
    /// engine's is refused with `ObjectLoadError.byteOrder`.
    ///
    /// `target`: what a JIT's code may use beyond its base instruction set
    /// (`JITTargetOptions`, the RISC-V extensions).
    public init(_ linked: LinkedProgram, object: LoadedObject? = nil, engine: EngineKind = .interpreter,
                architecture: Architecture? = nil,
                instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit, byteOrder: ByteOrder? = nil,
                hardened: Bool = false, target: JITTargetOptions = JITTargetOptions()) throws {
        let order = EngineCatalog.memoryOrder(engine, architecture: architecture, byteOrder: byteOrder ?? linked.byteOrder)
        let targetName = (architecture ?? Architecture.host).map { "\($0)" } ?? "host"
        try linked.checkByteOrder(order, engine: engine == .interpreter ? "\(order.endianName) interpreter" : "\(targetName) JIT")
        let engine = try EngineCatalog.engine(engine, architecture: architecture,
                                              byteOrder: engine == .interpreter ? order : byteOrder, target: target)
        self.byteOrder = order
        self.linked = linked
        self.engine = engine
        self.engineName = engine.name
        self.object = object
        self.instructionLimit = instructionLimit
        let hardened = hardened || linked.policy.hardensByDefault
        self.hardened = hardened
        try object?.populateProgramArrays(for: engine, instructionLimit: instructionLimit, hardened: hardened)
        self.prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: instructionLimit,
                                                                                                hardened: hardened))
    }

    /// Prepares the program a file holds (with its object, for `.o` and `.c` files).
    public convenience init(_ file: ProgramFile, engine: EngineKind = .interpreter, architecture: Architecture? = nil,
                            instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit, byteOrder: ByteOrder? = nil,
                            hardened: Bool = false, target: JITTargetOptions = JITTargetOptions()) throws {
        try self.init(file.linked, object: file.object, engine: engine, architecture: architecture, instructionLimit: instructionLimit,
                      byteOrder: byteOrder, hardened: hardened, target: target)
    }

    /// Prepares a bare program as `type` (default `.mem`: r1 = input, r2 = its
    /// length) with the kernel's helpers and `helpers` over them, loaded under `policy`.
    public convenience init(_ program: Program, type: any ProgramType = ProgramTypes.mem, engine: EngineKind = .interpreter,
                            architecture: Architecture? = nil,
                            helpers: HelperRegistry = HelperRegistry(),
                            instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                            policy: VerifierPolicy = .privileged, hardened: Bool = false) throws {
        let linked = try LinkedProgram(program: program, type: type, options: LoadOptions(extraHelpers: helpers, policy: policy))
        try self.init(linked, engine: engine, architecture: architecture, instructionLimit: instructionLimit, hardened: hardened)
    }

    /// Puts the object's program named `program`, prepared for this engine,
    /// in slot `index` of the program array `map` (keeping the preparations
    /// for other engines when the slot already holds that program).
    public func setTailCall(map: String, index: Int, program: String) throws {
        guard let object else { throw TailCallSetupError("tail calls need the program's object (a .o or .c file)") }
        let array = try object.programArray(named: map)
        let linked = try object.program(named: program)
        let current = array.entry(at: index).target
        let target = try TailCallTargets.make(linked, engine: engine, adding: current, instructionLimit: instructionLimit,
                                              hardened: hardened)
        try array.set(target, at: index)
    }

    /// Empties slot `index` of the program array `map`.
    public func clearTailCall(map: String, index: Int) throws {
        guard let object else { throw TailCallSetupError("tail calls need the program's object (a .o or .c file)") }
        try object.programArray(named: map).clear(at: index)
    }

    public var program: Program { linked.program }

    /// Runs once over `input`. A run that stops with an error throws
    /// `RunError`: the engine's `ExecutionError` told in the program's terms.
    public func run(input: [UInt8]) throws -> RunResult {
        let run = try linked.makeRun(input: input, byteOrder: byteOrder)
        let r0: UInt64
        do { r0 = try prepared.run(run.input) } catch {
            let origin = origin(of: error)
            throw RunError(error, regions: run.namedRegions, maps: linked.maps.maps, type: linked.type,
                           sourceLine: origin.line, program: origin.program)
        }
        return RunResult(returnValue: r0, run: run)
    }

    /// Runs `count` times over fresh copies of `input`, timing only the runs
    /// themselves; returns the last result and the mean nanoseconds per run.
    /// The copies are made in batches ahead of the runs, and each batch is
    /// timed as a whole, so the clock's own cost is not in the figure (it
    /// would be most of it for a short program).
    public func measure(input: [UInt8], count: Int) throws -> (result: RunResult, meanNanoseconds: UInt64) {
        let count = max(count, 1), batchSize = 256
        var total: UInt64 = 0
        var last = RunResult(returnValue: 0, output: input)
        var done = 0
        while done < count {
            let runs = try (0..<min(batchSize, count - done)).map { _ in try linked.makeRun(input: input, byteOrder: byteOrder) }
            var r0: UInt64 = 0
            let start = ContinuousClock.now
            var current = 0
            do {
                for (index, run) in runs.enumerated() { current = index; r0 = try prepared.run(run.input) }
            } catch {
                let origin = origin(of: error)
                throw RunError(error, regions: runs[current].namedRegions, maps: linked.maps.maps, type: linked.type,
                               sourceLine: origin.line, program: origin.program)
            }
            let elapsed = ContinuousClock.now - start
            total += UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
            last = RunResult(returnValue: r0, run: runs[runs.count - 1])
            done += runs.count
        }
        return (last, total / UInt64(count))
    }
}

extension LoadedProgram {
    /// The program a run's error stopped in, when it was not this one, and the
    /// C source line of the failing instruction.
    ///
    /// A run that makes tail calls may stop in another of the object's
    /// programs, and the error's pc is in that program's numbering. The
    /// candidates are this program and, when it can tail-call, the object's
    /// other programs; of those, the ones whose instruction at the pc could
    /// have raised the error (a memory access for an out-of-bounds error, a
    /// call of that helper for a helper's error) remain. A line is shown only
    /// when exactly one remains, so it is never another program's line.
    func origin(of error: ExecutionError) -> (program: String?, line: SourceLine?) {
        let entryFits = Self.couldRaise(error, in: linked.program)
        let tailCalls = linked.program.instructions.contains { $0 == .call(.helper(TailCalls.helperID)) }
        guard tailCalls, let object else {
            return (nil, entryFits ? sourceLine(at: error.pc) : nil)
        }
        let others = object.object.programs.filter { $0.name != linked.name && Self.couldRaise(error, in: $0.program) }
        switch (entryFits, others.count) {
        case (true, 0): return (nil, sourceLine(at: error.pc))
        case (false, 1): return (others[0].name, others[0].sourceLine(at: error.pc))
        default: return (nil, nil)
        }
    }

    /// Whether `program`'s instruction at the error's pc is one that raises such an error.
    static func couldRaise(_ error: ExecutionError, in program: Program) -> Bool {
        let pc = error.pc
        guard program.instructions.indices.contains(pc) else { return false }
        let instruction = program.instructions[pc]
        switch error {
        case .outOfBounds:
            switch instruction {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic: return true
            default: return false
            }
        case .unknownHelper(_, let id), .helperFailed(_, let id, _):
            switch instruction {
            case .call(.helper(let called)): return called == id
            case .call(.kfunc): return true
            default: return false
            }
        case .callDepthExceeded:
            if case .call(.local) = instruction { return true }
            return false
        default:
            return true
        }
    }
}
