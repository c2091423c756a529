import BPFJIT
import BPFRuntime

/// An image of an emulated JIT backend loaded into an emulated machine,
/// ready to run many times from many threads (each run takes an engine
/// from the machine): the prepared program every emulated backend returns
/// (`Arm32EmulatedProgram`, `Arm64EmulatedProgram`, … name it for one
/// backend). The run itself is `EmulatedJITRun`, which this forwards to;
/// what differs between backends is what the backend states in its
/// `EmulatedJITBackend` conformance (addressing, backstop, status kind) and the engine the program is prepared for (`tailCallEngine`: one
/// backend type may serve two byte orders).
public final class EmulatedJITPreparedProgram<Backend: EmulatedJITBackend>: TailCallable, EmulatedJITProgram {
    public let image: JITImage
    /// Image size after each pass of the compile (the last two agree).
    public let passSizes: [Int]
    /// The engine that prepared it (its column in program arrays).
    public let tailCallEngine: TailCallEngine
    /// Registrations with the program arrays this program loads (kept for its lifetime).
    let attachments: [TailCallAttachment]
    /// The run every emulated backend shares.
    let emulation: EmulatedJITRun

    public var machine: EmulatedMachine { emulation.program.machine }
    public var program: EmulatedProgram { emulation.program }
    /// Bytes of BPF stack the image reserves (all frames).
    public var stackSize: Int { emulation.stackSize }
    /// Whether the code reads or writes the run context (code that does not
    /// calls no helper and runs without one).
    public var usesRunContext: Bool { emulation.usesRunContext }
    public var instructionLimit: UInt64 { emulation.instructionLimit }
    /// The emulator's own budget of native instructions per run.
    public var nativeInstructionLimit: UInt64 { emulation.nativeInstructionLimit }
    /// What the check routine and error reports consult while this program's code runs.
    public var info: JITProgramInfo { emulation.info }
    /// The tables of entries of every program array of the environment, in its order.
    public var tables: [MemoryRegion] { emulation.tables }
    /// Where a tail call enters: the image's entry, at its address in the machine.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Loads `compiled` (compiled by `EmulatedJIT.compile` into `machine`)
    /// with the BPF budget `instructionLimit`.
    public init(_ compiled: EmulatedJITImage<Backend>, machine: EmulatedMachine, engine: TailCallEngine, instructionLimit: UInt64,
                attachments: [TailCallAttachment] = []) throws(EmulatorError) {
        image = compiled.image
        passSizes = compiled.backend.passSizes
        tailCallEngine = engine
        self.attachments = attachments
        emulation = try EmulatedJITRun(image: compiled.image, machine: machine, reservation: compiled.reservation, info: compiled.info,
                                       stackSize: compiled.backend.stackSize, instructionLimit: instructionLimit,
                                       nativePerBudgetUnit: Backend.nativePerBudgetUnit, nativeSlack: Backend.nativeSlack,
                                       addressing: Backend.addressing, usesRunContext: compiled.backend.statistics.usesRunContext,
                                       tables: compiled.tables, dynamicHelperMissing: Backend.dynamicHelperMissing)
    }

    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try emulation.execute(input).value
    }

    /// Runs once; the result says how many native instructions the emulated
    /// CPU executed (helpers not included).
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        try emulation.execute(input)
    }
}
