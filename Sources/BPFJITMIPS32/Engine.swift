import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

/// The MIPS32 JIT as an execution engine (`--engine jit --arch mips32le`
/// or `mips32be`): the image runs under Unicorn on an emulated MIPS32
/// Release 2 core (the 74Kf), on any host.
///
/// Host memory reaches the 32-bit CPU through the machine's translated
/// windows: r1 and r2 are passed as guest addresses when they point into
/// the run's regions, helpers get and return host pointers translated by
/// their prototypes, and the run context is one more window. Helper
/// arguments are placed by prototype (`O32`), which the machine reads the
/// same way (`HelperArgumentConvention.aapcs` on an O32 row: the same
/// rules after the 16-byte home area, pairs in memory order).
public struct MIPS32JIT: ExecutionEngine {
    public let name = "jit"
    public var options: MIPS32Options
    public var placement: BPFEmulator.ImagePlacement

    public init(options: MIPS32Options = MIPS32Options(), placement: BPFEmulator.ImagePlacement = .nearHelpers) {
        self.options = options
        self.placement = placement
    }

    /// A JIT for one byte order.
    public init(bigEndian: Bool) {
        self.init(options: MIPS32Options(bigEndian: bigEndian))
    }

    /// The machine description the backend targets: the mips32le or
    /// mips32be row with helper arguments by prototype.
    public static func architecture(bigEndian: Bool, release6: Bool = false) -> EmulatedArchitecture {
        var row = release6 ? EmulatedArchitecture.mips32r6(bigEndian: bigEndian)
            : bigEndian ? EmulatedArchitecture.mips32be : EmulatedArchitecture.mips32le
        row.helperArguments = .aapcs
        return row
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        try emulate(program, configuration: configuration)
    }

    /// The engine's identity in program arrays: images of emulated MIPS32
    /// machines of this byte order.
    public var tailCallEngine: TailCallEngine? { engine }
    var engine: TailCallEngine { .emulatedJIT(options.bigEndian ? .mips32be : .mips32le) }

    /// Compiles `program` for an emulated machine and loads it there: a new
    /// machine, or the one every program sharing its program arrays runs on.
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> MIPS32EmulatedProgram {
        let attachments = try configuration.tailCalls?.attach(program, engine: engine) ?? []
        return try emulate(program, configuration: configuration, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment]) throws(EngineError) -> MIPS32EmulatedProgram {
        let tableIndex = try JITEngineSteps.tableIndex(configuration, maxArrays: MIPS32TailCalls.maxArrays)
        let options = options
        return try EmulatedJIT.emulate(program, configuration: configuration, attachments: attachments, engineName: name,
                                       label: "MIPS32", architecture: Self.architecture(bigEndian: options.bigEndian, release6: options.release6),
                                       variant: options.release6 ? 1 : 0, engine: engine, placement: placement,
                                       tag: { Self.tagged($0, bigEndian: options.bigEndian) }, targets: Self.targets(on:)) {
            (input, targets) throws(JITError) in
            try MIPS32Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                              tailCalls: input.tailCalls, tableIndex: tableIndex, proofs: input.proofs)
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (listings, encoder tests).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: MIPS32Options = MIPS32Options(), at address: UInt,
                                targets: MIPS32CallTargets) throws(EngineError) -> JITImage {
        try JITEngineSteps.assemble(program, configuration: configuration, at: address, passSizes: \MIPS32Backend.passSizes,
                                    tag: { tagged($0, bigEndian: options.bigEndian) }) { (code, helpers, proofs) throws(JITError) in
            try MIPS32Backend(program: code, helpers: helpers, options: options, targets: targets, proofs: proofs)
        }
    }

    /// The image `bpfkit dump jited --arch mips32le|mips32be` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: MIPS32Options = MIPS32Options()) throws(EngineError) -> JITImage {
        try MIPS32JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    /// The image named for its byte order (one backend type serves both, and
    /// the driver records the type's architecture): listings pick Capstone's mode by it.
    static func tagged(_ image: JITImage, bigEndian: Bool) -> JITImage {
        guard bigEndian else { return image }
        return JITImage(architecture: .mips32be, bytes: image.bytes, address: image.address,
                        instructionOffsets: image.instructionOffsets, functionOffsets: image.functionOffsets,
                        epilogueOffsets: image.epilogueOffsets, passes: image.passes, statistics: image.statistics,
                        tailCallSites: image.tailCallSites)
    }

    /// Where the code calls on `machine`: helpers, the check routine, the routines.
    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> MIPS32CallTargets {
        try EmulatedJITMachines.targets(on: machine, checkAccess: MIPS32Backend.checkAccessCall,
                                        routines: MIPS32Routine.allCases, call: MIPS32Backend.runtimeCall)
    }
}

extension MIPS32Backend: EmulatedJITBackend {
    public static let addressing = EmulatedJITRun.Addressing.translated(tableWords: MIPS32TailCalls.tableWords)
    public static let nativePerBudgetUnit: UInt64 = 48
    public static let nativeSlack: UInt64 = 1 << 12
    public static let dynamicHelperMissing = MIPS32Status.dynamicHelperMissing
}

/// A MIPS32 image loaded into an emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 in a0:a1, r2 in a2:a3 and the guest address of a run
/// context (a page of host memory seen through a window) in the first
/// stack slot. The code writes why it stopped into the context; the slow
/// bounds check reads the stack bounds the prologue stored there. The run
/// itself is the one every emulated backend shares (`EmulatedJITRun`).
public typealias MIPS32EmulatedProgram = EmulatedJITPreparedProgram<MIPS32Backend>

extension MIPS32Backend {
    /// The division and atomic routines under the emulator. An atomic runs
    /// whole inside one call: the emulated core does nothing meanwhile.
    public static func runtimeCall(_ routine: MIPS32Routine) -> RuntimeCall {
        switch routine {
        case .udiv64, .umod64, .sdiv64, .smod64:
            return RuntimeCall(name: "bpfkit.mips32.\(routine.rawValue)", argumentCount: 2) { call throws(HelperError) in
                routine.evaluate(call.argument(1), call.argument(2))
            }
        default:
            return RuntimeCall(name: "bpfkit.mips32.\(routine.rawValue)", argumentCount: 3) { call throws(HelperError) in
                let address = call.argument(1)
                let old = try call.memory.load(UInt64.self, at: address)
                let new = routine.combine(old: old, operand: call.argument(2), expected: call.argument(3))
                if new != old || routine != .atomicCmpxchg64 { try call.memory.store(new, at: address) }
                return old
            }
        }
    }

    /// The slow bounds check under the emulator (`EmulatedJITRun.checkAccessCall`).
    public static let checkAccessCall = EmulatedJITRun.checkAccessCall(name: "bpfkit.mips32.checkAccess", addressing: addressing)
}
