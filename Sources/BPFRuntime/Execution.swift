import BPFISA

/// Why a run stopped without a result. Every case names the instruction (slot index).
public enum ExecutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A load, store or atomic touched memory outside the program's regions.
    case outOfBounds(pc: Int, address: UInt64, size: Int, write: Bool)
    /// The instruction budget ran out (a runaway program).
    case instructionLimit(pc: Int, limit: UInt64)
    /// Local calls nested deeper than the frame limit.
    case callDepthExceeded(pc: Int, limit: Int)
    /// A call to a helper number nobody registered.
    case unknownHelper(pc: Int, id: Int32)
    /// A helper reported a failure.
    case helperFailed(pc: Int, id: Int32, message: String)
    /// Control left the program (only possible for unvalidated programs).
    case invalidProgramCounter(pc: Int)
    /// The engine cannot run this instruction (e.g. a kfunc call).
    case unsupported(pc: Int, what: String)
    /// The run's input (r2, its length) is longer than the maximum the
    /// program was verified for (`ProgramProofs.inputLengthLimit`): refused
    /// before any instruction runs, since its proofs assume r2 <= maximum.
    case inputTooLong(length: UInt64, maximum: Int)

    public var pc: Int {
        switch self {
        case .outOfBounds(let pc, _, _, _), .instructionLimit(let pc, _), .callDepthExceeded(let pc, _),
             .unknownHelper(let pc, _), .helperFailed(let pc, _, _), .invalidProgramCounter(let pc),
             .unsupported(let pc, _):
            pc
        case .inputTooLong:
            0
        }
    }

    public var description: String {
        switch self {
        case .outOfBounds(let pc, let address, let size, let write):
            "instruction \(pc): \(write ? "write" : "read") of \(size) bytes at 0x\(String(address, radix: 16)) is outside the program's memory"
        case .instructionLimit(let pc, let limit):
            "instruction \(pc): stopped after \(limit) instructions (instruction limit reached; is the program looping?)"
        case .callDepthExceeded(let pc, let limit):
            "instruction \(pc): local calls nested deeper than \(limit) frames"
        case .unknownHelper(let pc, let id):
            "instruction \(pc): " + KernelHelperNames.unknownCall(id)
        case .helperFailed(let pc, let id, let message):
            "instruction \(pc): \(KernelHelperNames.describe(id)) failed: \(message)"
        case .invalidProgramCounter(let pc):
            "instruction \(pc): control left the program"
        case .unsupported(let pc, let what):
            "instruction \(pc): \(what) is not supported by this engine"
        case .inputTooLong(let length, let maximum):
            "the input is \(length) bytes, over the program's maximum input of \(maximum) bytes (it was verified for inputs of at most \(maximum) bytes; load it with a larger maximum input)"
        }
    }
}

/// Limits every engine enforces.
public enum ExecutionLimits {
    /// Bytes of stack per frame (RFC 9669 programs assume 512).
    public static let stackSizePerFrame = 512
    /// Maximum frames: the entry function plus nested local calls (the kernel's MAX_CALL_FRAMES).
    public static let maxCallFrames = 8
    /// Default budget of executed instructions before a run is stopped.
    public static let defaultInstructionLimit: UInt64 = 100_000_000
}

/// What one run receives: the argument registers and the memory the program
/// may touch besides its own stack (which the engine provides).
public struct RunInput: Sendable {
    public var r1: UInt64
    public var r2: UInt64
    public var regions: MemoryRegions
    /// A region with moving ends (the XDP packet) that engines check inline
    /// at its live bounds; `regions` admits the same bytes on the slow path.
    public var dynamicRegion: DynamicRegion?
    /// Host addresses of 8-byte words in the run's memory that hold host
    /// pointers the program reads (a context's packet pointers). Engines whose
    /// CPU sees host memory at other addresses (32-bit targets under the
    /// emulator) show these words translated; others ignore the list.
    public var pointerWords: [UInt64] = []

    public init(r1: UInt64, r2: UInt64 = 0, regions: MemoryRegions, dynamicRegion: DynamicRegion? = nil) {
        self.r1 = r1
        self.r2 = r2
        self.regions = regions
        self.dynamicRegion = dynamicRegion
    }
}

/// Settings fixed when a program is prepared for an engine.
public struct EngineConfiguration: Sendable {
    public var helpers: HelperRegistry
    /// Executed-instruction budget per run (interpreter; JITs use an equivalent).
    public var instructionLimit: UInt64
    /// The program arrays the program may tail-call through. When set, the
    /// engine runs `call 12` (`bpf_tail_call`) itself; when nil, `call 12` is
    /// an ordinary call of whatever helper 12 the registry has.
    public var tailCalls: TailCallEnvironment?
    /// What the verifier proved about the program (JITs leave out the checks
    /// it makes unnecessary); ignored unless it `applies(to:)` the program.
    public var proofs: ProgramProofs?
    /// Hardened JIT compilation (the kernel's `bpf_jit_harden`): every
    /// immediate the program chooses is blinded with a random per-program
    /// key, so none appears in executable memory (`JITBlinding`). The
    /// interpreter ignores it. A load policy may turn it on by default.
    public var hardened = false
    /// The 64-bit immediate loads (by pc) whose value the loader made a host
    /// address: a global variable's or a direct map value's address. Engines
    /// running on host addresses ignore them; a 32-bit emulated engine gives
    /// those loads the guest address its machine shows that memory at.
    public var addressLoads: [Int: AddressLoad]

    public init(helpers: HelperRegistry = HelperRegistry(), instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                tailCalls: TailCallEnvironment? = nil, proofs: ProgramProofs? = nil, addressLoads: [Int: AddressLoad] = [:]) {
        self.helpers = helpers
        self.instructionLimit = instructionLimit
        self.tailCalls = tailCalls
        self.proofs = proofs
        self.addressLoads = addressLoads
    }
}

/// A 64-bit immediate load the loader resolved to a host address: the
/// address lies in `object` (a map value's bytes), which outlives the program.
public struct AddressLoad: Hashable, Sendable {
    /// The host bytes the loaded address points into.
    public var object: Range<UInt64>

    public init(object: Range<UInt64>) { self.object = object }
}

/// A program made ready by an engine (decoded for the interpreter, compiled
/// by a JIT). Safe to run from several threads at once.
public protocol PreparedProgram: Sendable {
    func run(_ input: RunInput) throws(ExecutionError) -> UInt64
}

/// Errors while preparing a program for an engine.
public enum EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidProgram(ISAError)
    case unsupportedHost(engine: String, reason: String)
    case compilationFailed(pc: Int?, reason: String)
    /// The program references a program array it cannot tail-call through
    /// (entries of another program type, or not prepared for this engine).
    case incompatibleProgramArray(String)

    public var description: String {
        switch self {
        case .invalidProgram(let e): e.description
        case .unsupportedHost(let engine, let reason): "engine \(engine) cannot run here: \(reason)"
        case .compilationFailed(let pc, let reason):
            pc.map { "instruction \($0): \(reason)" } ?? reason
        case .incompatibleProgramArray(let why): why
        }
    }
}

/// An execution engine: the interpreter or a JIT backend (native or emulated).
public protocol ExecutionEngine: Sendable {
    /// Short name used on the command line (`interpreter`, `jit`).
    var name: String { get }
    func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram
    /// The engine's identity in program arrays, if its prepared programs can
    /// be tail-call targets (`TailCallable`).
    var tailCallEngine: TailCallEngine? { get }
}

extension ExecutionEngine {
    public var tailCallEngine: TailCallEngine? { nil }
}
