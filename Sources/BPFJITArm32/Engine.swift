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
        let machine: EmulatedMachine
        let targets: Arm32CallTargets
        do throws(EmulatorError) {
            machine = try EmulatedJITMachines.machine(Self.architecture, for: configuration)
            targets = try Self.targets(on: machine)
        } catch {
            throw .unsupportedHost(engine: name, reason: "the arm32 emulator: \(error)")
        }
        let tableIndex = try JITEngineSteps.tableIndex(configuration, maxArrays: Arm32TailCalls.maxArrays)
        let options = options
        let compiled = try EmulatedJIT.compile(program, configuration: configuration, engine: .emulatedJIT(.arm32), machine: machine,
                                               placement: placement) { (input) throws(JITError) in
            try Arm32Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                             tailCalls: input.tailCalls, tableIndex: tableIndex, proofs: input.proofs)
        }
        do throws(EmulatorError) {
            return try Arm32EmulatedProgram(compiled, machine: machine, instructionLimit: configuration.instructionLimit,
                                            attachments: attachments)
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the arm32 image into the emulator: \(error)")
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (listings, encoder tests).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: Arm32Options = Arm32Options(), at address: UInt,
                                targets: Arm32CallTargets) throws(EngineError) -> JITImage {
        let helpers = try JITEngineSteps.helperTable(program, configuration: configuration)
        let blinding = try JITEngineSteps.blinding(program, configuration: configuration)
        do throws(JITError) {
            var backend = try Arm32Backend(program: blinding?.program ?? program, helpers: helpers, options: options, targets: targets,
                                           proofs: JITEngineSteps.proofs(program, configuration: configuration, blinding: blinding))
            let image = try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0
            try JITEngineSteps.checkLastPassesAgree(backend.passSizes, image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw JITEngineSteps.engineError(blinding?.restore(error) ?? error)
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
        try EmulatedJITMachines.targets(on: machine, checkAccess: Arm32EmulatedProgram.checkAccessCall,
                                        routines: Arm32Routine.allCases, call: Arm32EmulatedProgram.runtimeCall)
    }
}

extension Arm32Backend: EmulatedJITBackend {}

/// An arm32 image loaded into an emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 in r0:r1, r2 in r2:r3 and the guest address of a run
/// context (a page of host memory seen through a window) in the first
/// stack slot. The code writes why it stopped into the context; the slow
/// bounds check reads the stack bounds the prologue stored there. The run
/// itself is the one every emulated backend shares (`EmulatedJITRun`).
public final class Arm32EmulatedProgram: TailCallable, EmulatedJITProgram {
    public let image: JITImage
    public let passSizes: [Int]
    /// Registrations with the program arrays this program loads (kept for its lifetime).
    let attachments: [TailCallAttachment]
    let emulation: EmulatedJITRun

    public var machine: EmulatedMachine { emulation.program.machine }
    public var program: EmulatedProgram { emulation.program }
    public var stackSize: Int { emulation.stackSize }
    public var instructionLimit: UInt64 { emulation.instructionLimit }
    public var nativeInstructionLimit: UInt64 { emulation.nativeInstructionLimit }
    public var info: JITProgramInfo { emulation.info }
    /// The tables of entries of every program array of the environment, in its order.
    var tables: [MemoryRegion] { emulation.tables }

    public var tailCallEngine: TailCallEngine { .emulatedJIT(.arm32) }
    /// Where a tail call enters: the image's entry, at its guest address.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Native instructions the emulator allows per unit of the BPF budget
    /// (a backstop behind the code's own runaway guard).
    static let nativePerBudgetUnit: UInt64 = 48

    init(_ compiled: EmulatedJITImage<Arm32Backend>, machine: EmulatedMachine, instructionLimit: UInt64,
         attachments: [TailCallAttachment] = []) throws(EmulatorError) {
        image = compiled.image
        passSizes = compiled.backend.passSizes
        self.attachments = attachments
        emulation = try EmulatedJITRun(image: compiled.image, machine: machine, reservation: compiled.reservation, info: compiled.info,
                                 stackSize: compiled.backend.stackSize, instructionLimit: instructionLimit,
                                 nativePerBudgetUnit: Self.nativePerBudgetUnit, nativeSlack: 1 << 12,
                                 addressing: .translated(tableWords: Arm32TailCalls.tableWords), tables: compiled.tables,
                                 dynamicHelperMissing: Arm32Status.dynamicHelperMissing)
    }

    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try emulation.execute(input).value
    }

    /// Runs once; the result says how many native instructions the emulated CPU executed.
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        try emulation.execute(input)
    }

    /// The division routines under the emulator.
    public static func runtimeCall(_ routine: Arm32Routine) -> RuntimeCall {
        RuntimeCall(name: "bpfkit.arm32.\(routine.rawValue)", argumentCount: 2) { call throws(HelperError) in
            routine.evaluate(call.argument(1), call.argument(2))
        }
    }

    /// The slow bounds check: `(context, address, info)`, all guest values.
    /// The stack bounds in the context are guest addresses; any other
    /// address must translate to host memory one of the run's regions
    /// permits, all of its bytes through one window.
    public static let checkAccessCall = RuntimeCall(name: "bpfkit.arm32.checkAccess", argumentCount: 3) { call throws(HelperError) in
        guard let contextHost = call.memory.hostAddress(forGuest: call.argument(1)),
              let raw = UnsafeMutableRawPointer(bitPattern: UInt(contextHost)) else {
            throw HelperError("the check routine was called without a run context")
        }
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let host = context.pointee.host!.assumingMemoryBound(to: EmulatedRunHost.self)
        let info = call.argument(3)
        let space = call.memory.addressSpace
        let guest = call.argument(2)
        let stackBase = context.pointee.stackBase & 0xffff_ffff
        let error = JITHostRoutines.accessError(
            address: guest, info: info, stackBase: stackBase,
            stackSize: UInt64(JITProgramInfo.current(in: context.pointee)?.stackSize ?? host.pointee.stackSize),
            permits: { address, size, write in
                guard let start = space.hostAddress(forGuest: address) else { return false }
                if size > 1 {
                    guard let last = space.hostAddress(forGuest: address + UInt64(size) - 1), last == start + UInt64(size) - 1 else {
                        return false
                    }
                }
                return host.pointee.regions.permits(start, size: size, write: write)
            })
        guard var error else { return 0 }
        // Report the host address the interpreter would, where there is one.
        if let hostAddress = space.hostAddress(forGuest: guest) {
            switch error {
            case .outOfBounds(let pc, _, let size, let write):
                error = .outOfBounds(pc: pc, address: hostAddress, size: size, write: write)
            default:
                // The alignment verdict, worded with the host address (windows keep alignment).
                error = JITHostRoutines.accessError(address: hostAddress, info: info, stackBase: 0, stackSize: 0,
                                                    permits: { _, _, _ in true }) ?? error
            }
        }
        host.pointee.error = error
        context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: Int(info >> 8)))
        return 1
    }
}
