import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

/// The RISC-V 64 JIT as an execution engine (`--engine jit --arch riscv64`):
/// the image runs under Unicorn on the emulator's riscv64 row (RV64GC, LP64)
/// on any host.
///
/// `prepare` validates the program, resolves its helpers (unknown numbers
/// fail here) and compiles it with the shared pass driver at the address the
/// machine reserved for it, next to the helper trampolines (every helper
/// call a direct `jal`), 16 to 24 MiB away (`auipc` + `jalr`) or 4 GiB
/// and more away (every call built in t6). With Zba/Zbb on, the machine
/// performs those instructions, which Unicorn 2.0.1's RV64 core lacks
/// (`SoftInstructions`).
/// A 64-bit target sees host memory at its host addresses, as arm64 does:
/// stack, input, context and map values are used where they are.
///
/// Compiling into a machine's code area and running there are the shared
/// emulated path (`EmulatedJIT.compile`, `EmulatedJITRun`, `EmulatedJITMachines`).
public struct RV64JIT: ExecutionEngine {
    public let name = "jit"
    public var options: RV64Options
    public var placement: BPFEmulator.ImagePlacement

    public init(options: RV64Options = RV64Options(), placement: BPFEmulator.ImagePlacement = .nearHelpers) {
        self.options = options
        self.placement = placement
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        try emulate(program, configuration: configuration)
    }

    public var tailCallEngine: TailCallEngine? { .emulatedJIT(.riscv64) }

    /// The emulator's riscv64 row for code compiled with `options`: one
    /// that performs the Zba/Zbb instructions the options turn on.
    public static func architecture(_ options: RV64Options) -> EmulatedArchitecture {
        .riscv64(zba: options.zba, zbb: options.zbb)
    }

    /// Compiles `program` for an emulated machine and loads it there: a new
    /// machine, or the one every program sharing its program arrays runs on.
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> RV64EmulatedProgram {
        let attachments = try configuration.tailCalls?.attach(program, engine: .emulatedJIT(.riscv64)) ?? []
        return try emulate(program, configuration: configuration, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment]) throws(EngineError) -> RV64EmulatedProgram {
        let machine: EmulatedMachine
        let targets: RV64CallTargets
        do throws(EmulatorError) {
            // Near, middle and far images keep to machines of their own; code
            // with Zba/Zbb runs on a machine that performs them (Unicorn's
            // RV64 core lacks them), and plain code on one that faults on them.
            let variant = switch placement { case .nearHelpers: 0; case .farFromHelpers: 1; case .beyondShortCalls: 2 }
            machine = try EmulatedJITMachines.machine(Self.architecture(options), for: configuration, variant: variant)
            targets = try Self.targets(on: machine)
        } catch {
            throw .unsupportedHost(engine: name, reason: "the riscv64 emulator: \(error)")
        }
        let options = options
        let compiled = try EmulatedJIT.compile(program, configuration: configuration, engine: .emulatedJIT(.riscv64), machine: machine,
                                               placement: placement) { (input) throws(JITError) -> RV64Backend in
            try RV64Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                            tailCalls: input.tailCalls, proofs: input.proofs)
        }
        do throws(EmulatorError) {
            return try RV64EmulatedProgram(compiled, machine: machine, instructionLimit: configuration.instructionLimit,
                                           attachments: attachments)
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the riscv64 image into the emulator: \(error)")
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (encoder tests, listings).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: RV64Options = RV64Options(), at address: UInt,
                                targets: RV64CallTargets) throws(EngineError) -> JITImage {
        let helpers = try JITEngineSteps.helperTable(program, configuration: configuration)
        let blinding = try JITEngineSteps.blinding(program, configuration: configuration)
        do throws(JITError) {
            var backend = try RV64Backend(program: blinding?.program ?? program, helpers: helpers, options: options, targets: targets,
                                          tailCalls: nil, proofs: JITEngineSteps.proofs(program, configuration: configuration, blinding: blinding))
            let image = try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0
            try JITEngineSteps.checkLastPassesAgree(backend.passSizes, image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw JITEngineSteps.engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The image `bpfkit dump jited --arch riscv64` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: RV64Options = RV64Options()) throws(EngineError) -> JITImage {
        try RV64JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> RV64CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        let check = try machine.runtimeCallAddress(for: RV64EmulatedProgram.checkAccessCall)
        return RV64CallTargets(helpers: addresses, checkAccess: check)
    }
}

extension RV64Backend: EmulatedJITBackend {}

/// A RISC-V 64 image loaded into an emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 and r2 in a0 and a1 and a run context in a2
/// (`EmulatedJITRun`, identity addressing: host memory at its host
/// addresses). Helper calls land on the machine's trampolines; slow bounds
/// checks call `checkAccessCall`; a runaway program stops on the image's
/// own guard, and the emulator's count of native instructions is a
/// backstop behind it.
public final class RV64EmulatedProgram: TailCallable, EmulatedJITProgram {
    public let image: JITImage
    /// Image size after each pass of the compile (the last two agree).
    public let passSizes: [Int]
    /// Registrations with the program arrays this program loads (kept for its lifetime).
    let attachments: [TailCallAttachment]
    /// The run every emulated backend shares.
    let emulation: EmulatedJITRun

    public var machine: EmulatedMachine { emulation.program.machine }
    public var program: EmulatedProgram { emulation.program }
    /// Bytes of BPF stack the image reserves (all frames).
    public var stackSize: Int { emulation.stackSize }
    public var instructionLimit: UInt64 { emulation.instructionLimit }
    /// The emulator's own budget of native instructions per run.
    public var nativeInstructionLimit: UInt64 { emulation.nativeInstructionLimit }
    /// What the check routine and error reports consult while this program's code runs.
    public var info: JITProgramInfo { emulation.info }

    public var tailCallEngine: TailCallEngine { .emulatedJIT(.riscv64) }
    /// Where a tail call enters: the image's entry, at its address in the machine.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Native instructions the backstop allows per unit of the BPF budget.
    static let nativePerBudgetUnit: UInt64 = 48

    init(_ compiled: EmulatedJITImage<RV64Backend>, machine: EmulatedMachine, instructionLimit: UInt64,
         attachments: [TailCallAttachment] = []) throws(EmulatorError) {
        image = compiled.image
        passSizes = compiled.backend.passSizes
        self.attachments = attachments
        emulation = try EmulatedJITRun(image: compiled.image, machine: machine, reservation: compiled.reservation, info: compiled.info,
                                       stackSize: compiled.backend.stackSize, instructionLimit: instructionLimit,
                                       nativePerBudgetUnit: Self.nativePerBudgetUnit, nativeSlack: 1 << 20, addressing: .identity,
                                       tables: compiled.tables, dynamicHelperMissing: RV64Status.dynamicHelperMissing)
    }

    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try emulation.execute(input).value
    }

    /// Runs once; the result says how many native instructions the emulated CPU executed.
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        try emulation.execute(input)
    }

    /// The slow bounds check under the emulator: `(context, address, info)`,
    /// with the native routine's verdict (`JITHostRoutines.accessError`).
    public static let checkAccessCall = RuntimeCall(name: "bpfkit.riscv64.checkAccess", argumentCount: 3) { call throws(HelperError) in
        guard let raw = UnsafeMutableRawPointer(bitPattern: UInt(call.argument(1))) else {
            throw HelperError("the check routine was called without a run context")
        }
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let host = context.pointee.host!.assumingMemoryBound(to: EmulatedRunHost.self)
        let info = call.argument(3)
        // After a tail call the stack is the target's, of its own size.
        let stackSize = JITProgramInfo.current(in: context.pointee)?.stackSize ?? host.pointee.stackSize
        guard let error = JITHostRoutines.accessError(address: call.argument(2), info: info, stackBase: context.pointee.stackBase,
                                                      stackSize: UInt64(stackSize),
                                                      permits: { host.pointee.regions.permits($0, size: $1, write: $2) }) else {
            return 0
        }
        host.pointee.error = error
        context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: Int(info >> 8)))
        return 1
    }
}
