import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

/// The arm32 JIT as an execution engine (`--engine jit --arch arm32`): the
/// image runs under Unicorn on an emulated Cortex-A15 (ARMv7-A with
/// UDIV/SDIV and LDREXD/STREXD), on any host.
///
/// Host memory reaches the 32-bit CPU through the machine's translated
/// windows: r1 and r2 are passed as guest addresses when they point into
/// the run's regions, helpers get and return host pointers translated by
/// their prototypes, and the run context is one more window. Helper
/// arguments are placed by prototype (`AAPCS`), which the machine reads the
/// same way (`HelperArgumentConvention.aapcs`).
public struct Arm32JIT: ExecutionEngine {
    public let name = "jit"
    public var options: Arm32Options
    public var placement: BPFEmulator.ImagePlacement

    public init(options: Arm32Options = Arm32Options(), placement: BPFEmulator.ImagePlacement = .nearHelpers) {
        self.options = options
        self.placement = placement
    }

    /// The machine description the backend targets: the arm32 row with
    /// helper arguments by prototype.
    public static var architecture: EmulatedArchitecture {
        var row = EmulatedArchitecture.arm32
        row.helperArguments = .aapcs
        return row
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        try emulate(program, configuration: configuration)
    }

    /// Compiles `program` for a new emulated machine and loads it there.
    /// The engine's identity in program arrays: images of emulated arm32 machines.
    public var tailCallEngine: TailCallEngine? { .emulatedJIT(.arm32) }

    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> Arm32EmulatedProgram {
        let engine = TailCallEngine.emulatedJIT(.arm32)
        let attachments = try configuration.tailCalls?.attach(program, engine: engine) ?? []
        return try emulate(program, configuration: configuration, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment]) throws(EngineError) -> Arm32EmulatedProgram {
        let tableIndex = try JITEngineSteps.tableIndex(configuration, maxArrays: Arm32TailCalls.maxArrays)
        let options = options
        return try EmulatedJIT.emulate(program, configuration: configuration, attachments: attachments, engineName: name,
                                       label: "arm32", architecture: Self.architecture, engine: .emulatedJIT(.arm32),
                                       placement: placement, targets: Self.targets(on:)) { (input, targets) throws(JITError) in
            try Arm32Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                             tailCalls: input.tailCalls, tableIndex: tableIndex, proofs: input.proofs)
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (listings, encoder tests).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: Arm32Options = Arm32Options(), at address: UInt,
                                targets: Arm32CallTargets) throws(EngineError) -> JITImage {
        try JITEngineSteps.assemble(program, configuration: configuration, at: address, passSizes: \Arm32Backend.passSizes) {
            (code, helpers, proofs) throws(JITError) in
            try Arm32Backend(program: code, helpers: helpers, options: options, targets: targets, proofs: proofs)
        }
    }

    /// The image `bpfkit dump jited --arch arm32` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: Arm32Options = Arm32Options()) throws(EngineError) -> JITImage {
        try Arm32JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    /// Where the code calls on `machine`: helpers, the check routine, the division routines.
    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> Arm32CallTargets {
        try EmulatedJITMachines.targets(on: machine, checkAccess: Arm32Backend.checkAccessCall,
                                        routines: Arm32Routine.allCases, call: Arm32Backend.runtimeCall)
    }
}

extension Arm32Backend: EmulatedJITBackend {
    public static let addressing = EmulatedJITRun.Addressing.translated(tableWords: Arm32TailCalls.tableWords)
    public static let nativePerBudgetUnit: UInt64 = 48
    public static let nativeSlack: UInt64 = 1 << 12
    public static let dynamicHelperMissing = Arm32Status.dynamicHelperMissing
}

/// An arm32 image loaded into an emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 in r0:r1, r2 in r2:r3 and the guest address of a run
/// context (a page of host memory seen through a window) in the first
/// stack slot. The code writes why it stopped into the context; the slow
/// bounds check reads the stack bounds the prologue stored there. The run
/// itself is the one every emulated backend shares (`EmulatedJITRun`).
public typealias Arm32EmulatedProgram = EmulatedJITPreparedProgram<Arm32Backend>

extension Arm32Backend {
    /// The division routines under the emulator.
    public static func runtimeCall(_ routine: Arm32Routine) -> RuntimeCall {
        RuntimeCall(name: "bpfkit.arm32.\(routine.rawValue)", argumentCount: 2) { call throws(HelperError) in
            routine.evaluate(call.argument(1), call.argument(2))
        }
    }

    /// The slow bounds check under the emulator (`EmulatedJITRun.checkAccessCall`).
    public static let checkAccessCall = EmulatedJITRun.checkAccessCall(name: "bpfkit.arm32.checkAccess", addressing: addressing)
}
