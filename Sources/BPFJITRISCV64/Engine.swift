import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

/// The RISC-V 64 JIT as an execution engine (`--engine jit --arch riscv64`):
/// the image runs under Unicorn on the emulator's riscv64 row (RV64GC, LP64)
/// on any host.
///
/// `prepare` validates the program, resolves its helpers (unknown numbers
/// fail here) and compiles it with the shared pass driver at the address the
/// machine reserved for it, next to the helper trampolines (every helper
/// call a direct `jal`) or 4 GiB and more away (every call built in t6).
/// A 64-bit target sees host memory at its host addresses, as arm64 does:
/// stack, input, context and map values are used where they are.
///
/// The emulated run (this file only) follows the arm64 engine's; it is the
/// one place to switch to a shared emulated-run type.
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

    /// Compiles `program` for an emulated machine and loads it there: a new
    /// machine, or the one every program sharing its program arrays runs on.
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> RV64EmulatedProgram {
        let attachments = try configuration.tailCalls?.attach(program, engine: .emulatedJIT(.riscv64)) ?? []
        return try emulate(program, configuration: configuration, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment]) throws(EngineError) -> RV64EmulatedProgram {
        let engine = TailCallEngine.emulatedJIT(.riscv64)
        let helpers = try Self.helperTable(program, configuration: configuration)
        let machine: EmulatedMachine
        let targets: RV64CallTargets
        do throws(EmulatorError) {
            machine = try RV64Machines.machine(for: configuration, placement: placement)
            targets = try Self.targets(on: machine)
        } catch {
            throw .unsupportedHost(engine: name, reason: "the riscv64 emulator: \(error)")
        }
        let blinding = try Self.blinding(program, configuration: configuration)
        let compiled = blinding?.program ?? program
        var plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: engine) }
        if let blinding { plan = blinding.plan(plan) }
        var backend = try Self.backend(program, configuration: configuration, helpers: helpers, options: options, targets: targets,
                                       tailCalls: plan, blinding: blinding)
        let info = JITProgramInfo(helpers: helpers, stackSize: backend.stackSize, unsupported: JITUnsupported.reasons(compiled),
                                  origin: blinding?.origin)
        backend.programInfo = info.address
        let image: JITImage, allocation: CodeAllocation?
        do throws(JITError) {
            let result = try JITDriver.compile(compiled, backend: &backend,
                                               placement: .memory(RV64ImageMemory(machine, placement: placement)))
            try Self.checkLastPassesAgree(backend.passSizes, image: result.0)
            (image, allocation) = (blinding?.restore(result.0) ?? result.0, result.1)
        } catch {
            throw Self.engineError(blinding?.restore(error) ?? error)
        }
        do throws(EmulatorError) {
            let tables = (configuration.tailCalls?.allArrays ?? []).map {
                MemoryRegion(start: $0.nativeEntries(for: engine), count: 8 * $0.maxEntries, writable: false, kind: .other)
            }
            return try RV64EmulatedProgram(image: image, machine: machine, reservation: allocation!.token as! ImageReservation,
                                           backend: backend, instructionLimit: configuration.instructionLimit, info: info,
                                           attachments: attachments, tables: tables)
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the riscv64 image into the emulator: \(error)")
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (encoder tests, listings).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: RV64Options = RV64Options(), at address: UInt,
                                targets: RV64CallTargets) throws(EngineError) -> JITImage {
        let helpers = try helperTable(program, configuration: configuration)
        let blinding = try blinding(program, configuration: configuration)
        var backend = try backend(program, configuration: configuration, helpers: helpers, options: options, targets: targets,
                                  tailCalls: nil, blinding: blinding)
        do throws(JITError) {
            let image = try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0
            try checkLastPassesAgree(backend.passSizes, image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The image `bpfkit dump jited --arch riscv64` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: RV64Options = RV64Options()) throws(EngineError) -> JITImage {
        try RV64JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    // MARK: Shared steps

    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> RV64CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        let check = try machine.runtimeCallAddress(for: RV64EmulatedProgram.checkAccessCall)
        return RV64CallTargets(helpers: addresses, checkAccess: check)
    }

    static func helperTable(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITHelperTable {
        do throws(ISAError) {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        do throws(JITError) {
            return try JITHelperTable(program: program, registry: configuration.helpers)
        } catch {
            throw engineError(error)
        }
    }

    /// The constant-blinded form of `program` when the configuration asks
    /// for hardened code (`JITBlinding`; ax is t0), else nil.
    static func blinding(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITBlinding? {
        guard configuration.hardened else { return nil }
        do throws(JITError) {
            return try JITBlinding.blind(program)
        } catch {
            throw engineError(error)
        }
    }

    /// The backend for `program` (its blinded form when `blinding` is given),
    /// with whatever of `configuration.proofs` applies to it.
    static func backend(_ program: Program, configuration: EngineConfiguration, helpers: JITHelperTable, options: RV64Options,
                        targets: RV64CallTargets, tailCalls: JITTailCallPlan?, blinding: JITBlinding?) throws(EngineError) -> RV64Backend {
        var proofs = JITProofs(configuration.proofs, program: program, instructionLimit: configuration.instructionLimit,
                               tailCalls: configuration.tailCalls)
        if let blinding { proofs = proofs.blinded(blinding) }
        do throws(JITError) {
            return try RV64Backend(program: blinding?.program ?? program, helpers: helpers, options: options, targets: targets,
                                   tailCalls: tailCalls, proofs: proofs)
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The writing pass produced exactly the size of the pass before it.
    static func checkLastPassesAgree(_ sizes: [Int], image: JITImage) throws(JITError) {
        guard let last = sizes.last, last == image.size else {
            throw .unencodable("the writing pass produced \(image.size) bytes, the backend counted \(sizes.last ?? -1)")
        }
        if sizes.count >= 2, sizes[sizes.count - 2] != last {
            throw .didNotConverge(passes: sizes.count)
        }
    }

    static func engineError(_ error: JITError) -> EngineError {
        .compilationFailed(pc: error.pc, reason: error.description)
    }
}

/// The emulated machines programs that share program arrays run on, so that
/// a tail call's jump lands in an image of the caller's own machine (held
/// weakly; a larger stack, since a tail call from a subprogram keeps the
/// caller's frames while the target runs, up to 33 deep).
enum RV64Machines {
    struct Key: Hashable {
        let arrays: [UInt64]
        let near: Bool
    }
    final class Weak: @unchecked Sendable {
        weak var machine: EmulatedMachine?
        init(_ machine: EmulatedMachine) { self.machine = machine }
    }
    static let shared = Mutex<[Key: Weak]>([:])

    static func machine(for configuration: EngineConfiguration,
                        placement: BPFEmulator.ImagePlacement) throws(EmulatorError) -> EmulatedMachine {
        let arrays = (configuration.tailCalls?.allArrays ?? []).map(\.handle)
        guard !arrays.isEmpty else {
            return try EmulatedMachine(architecture: .riscv64, helpers: configuration.helpers,
                                       configuration: EmulatedMachine.Configuration(callsSeeMachineStack: false))
        }
        let key = Key(arrays: arrays, near: placement == .nearHelpers)
        return try shared.withLock { (table) throws(EmulatorError) -> EmulatedMachine in
            table = table.filter { $0.value.machine != nil }
            if let machine = table[key]?.machine { return machine }
            let machine = try EmulatedMachine(architecture: .riscv64, helpers: configuration.helpers,
                                              configuration: EmulatedMachine.Configuration(stackSize: 1 << 20,
                                                                                           callsSeeMachineStack: false))
            table[key] = Weak(machine)
            return machine
        }
    }
}

/// An emulated machine's code area as the JIT core's executable memory
/// (the address is reserved before a byte is generated).
final class RV64ImageMemory: CodeMemory {
    let machine: EmulatedMachine
    let placement: BPFEmulator.ImagePlacement

    init(_ machine: EmulatedMachine, placement: BPFEmulator.ImagePlacement) {
        self.machine = machine
        self.placement = placement
    }

    func allocate(size: Int, alignment: Int) throws(CodeMemoryError) -> CodeAllocation {
        do throws(EmulatorError) {
            let reservation = try machine.reserveImage(size: size, placement: placement)
            return CodeAllocation(address: UInt(reservation.address), size: reservation.size, token: reservation)
        } catch {
            throw CodeMemoryError(error.description)
        }
    }

    func copy(_ bytes: [UInt8], into allocation: CodeAllocation) throws(CodeMemoryError) {}
    func free(_ allocation: CodeAllocation) {}
    func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError) {
        throw CodeMemoryError("emulated images are not patched in place")
    }
}

/// The host side of one run, which the check routine reaches through `JITRunContext.host`.
struct RV64RunHost {
    let regions: MemoryRegions
    let stackSize: Int
    var error: ExecutionError?
}

/// A RISC-V 64 image loaded into its own emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 and r2 in a0 and a1 and a run context in a2: a page of
/// host memory, machine-only (the code reaches it, no helper does), taken
/// from a small pool. Helper calls land on the machine's trampolines; slow
/// bounds checks call `checkAccessCall`; a runaway program stops on the
/// image's own guard, and the emulator's count of native instructions is a
/// backstop behind it.
public final class RV64EmulatedProgram: TailCallable {
    public let image: JITImage
    public let machine: EmulatedMachine
    public let program: EmulatedProgram
    public let stackSize: Int
    public let instructionLimit: UInt64
    public let nativeInstructionLimit: UInt64
    public let passSizes: [Int]
    public let info: JITProgramInfo
    private let contexts = Mutex<[UInt]>([])
    /// Registrations with the program arrays this program loads (kept for its lifetime).
    let attachments: [TailCallAttachment]
    /// The tables of native entries of every program array of the environment.
    let tables: [MemoryRegion]

    public var tailCallEngine: TailCallEngine { .emulatedJIT(.riscv64) }
    /// Where a tail call enters: the image's entry, at its address in the machine.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Native instructions the backstop allows per unit of the BPF budget.
    static let nativePerBudgetUnit: UInt64 = 48
    static let pageSize = 4096

    init(image: JITImage, machine: EmulatedMachine, reservation: ImageReservation, backend: RV64Backend,
         instructionLimit: UInt64, info: JITProgramInfo, attachments: [TailCallAttachment] = [],
         tables: [MemoryRegion] = []) throws(EmulatorError) {
        self.image = image
        self.machine = machine
        self.stackSize = backend.stackSize
        self.instructionLimit = instructionLimit
        self.passSizes = backend.passSizes
        self.info = info
        self.attachments = attachments
        self.tables = tables
        let scaled = instructionLimit.multipliedReportingOverflow(by: Self.nativePerBudgetUnit)
        nativeInstructionLimit = scaled.overflow ? .max : scaled.partialValue.addingReportingOverflow(1 << 20).partialValue
        let map = NativePCMap { [image] offset in image.instruction(containing: offset) }
        program = try machine.load(image: image.bytes, in: reservation, entryOffset: Int(image.functionOffsets[0]),
                                   pcMap: map, instructionLimit: nativeInstructionLimit)
    }

    deinit {
        for address in contexts.withLock({ $0 }) { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
    }

    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try execute(input).value
    }

    /// Runs once; the result says how many native instructions the emulated CPU executed.
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        // In flight until it returns: what it looked up and tail-calls stays valid (`RunLifetime`).
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        let block = contexts.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: Self.pageSize, alignment: Self.pageSize)
        let blockAddress = UInt(bitPattern: block)
        defer { contexts.withLock { $0.append(blockAddress) } }
        let context = block.bindMemory(to: JITRunContext.self, capacity: 1)
        context.initialize(to: JITRunContext(instructionLimit: instructionLimit, regions: input.regions))
        context.pointee.entryContext = input.r1
        defer { context.deinitialize(count: 1) }
        var host = RV64RunHost(regions: input.regions, stackSize: stackSize)
        let address = UInt64(blockAddress)
        let machineOnly = [MemoryRegion(start: address, count: MemoryLayout<JITRunContext>.size, writable: true, kind: .other)]
            + tables
        let regions = Self.withBPFStack(input.regions, context: address)
        let arguments: [EmulatedArgument] = [.value(input.r1), .value(input.r2), .value(address)]
        let outcome: Result<EmulatedRun, ExecutionError> = withUnsafeMutablePointer(to: &host) { hostPointer in
            context.pointee.host = UnsafeMutableRawPointer(hostPointer)
            do throws(ExecutionError) {
                return .success(try program.run(arguments: arguments, regions: regions, machineOnly: machineOnly))
            } catch .instructionLimit(let pc, _) {
                return .failure(.instructionLimit(pc: pc, limit: instructionLimit))
            } catch {
                return .failure(error)
            }
        }
        let run = try outcome.get()
        let status = context.pointee.status
        if status != 0 {
            // Named in the numbering of the program that stopped, as loaded.
            let stopped = JITProgramInfo.current(in: context.pointee) ?? info
            throw stopped.restore(failure(status: status, context: context.pointee, host: host))
        }
        return run
    }

    /// What helpers see of a run: its regions and the BPF stack of the
    /// program whose code runs now, `[stackBase, stackEnd)` as its entry
    /// prologue stored them in the context — never the rest of the machine
    /// stack, which holds saved registers and return addresses.
    static func withBPFStack(_ regions: MemoryRegions, context: UInt64) -> MemoryRegions {
        let inner = regions.resolver
        return MemoryRegions(regions.regions) { address, size, write in
            let frame = UnsafeRawPointer(bitPattern: UInt(context))!.load(as: NativeHelperFrame.self)
            if frame.stackEnd > frame.stackBase, frame.inStack(address, count: size) { return true }
            return inner?(address, size, write) ?? false
        }
    }

    private func failure(status: UInt64, context: JITRunContext, host: RV64RunHost) -> ExecutionError {
        let kind = UInt32(truncatingIfNeeded: status >> 24), pc = Int(status & 0xff_ffff)
        switch kind {
        case JITStatus.instructionLimit: return .instructionLimit(pc: pc, limit: instructionLimit)
        case JITStatus.callDepth: return .callDepthExceeded(pc: pc, limit: ExecutionLimits.maxCallFrames)
        case JITStatus.unsupported:
            let program = JITProgramInfo.current(in: context) ?? info
            return .unsupported(pc: pc, what: program.unsupported[pc] ?? "this instruction")
        case JITStatus.notAProgramArray: return .notAProgramArray(pc: pc, value: context.dynamicHelper)
        case JITStatus.tailCallContext: return .tailCallContextMismatch(pc: pc)
        case RV64Status.dynamicHelperMissing:
            let value = context.dynamicHelper
            guard let id = Int32(exactly: Int64(bitPattern: value)) else {
                return .unsupported(pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
            }
            return .unknownHelper(pc: pc, id: id)
        default:
            return host.error ?? .unsupported(pc: pc, what: "an unknown JIT status \(status)")
        }
    }

    /// The slow bounds check under the emulator: `(context, address, info)`,
    /// with the native routine's verdict (`JITHostRoutines.accessError`).
    public static let checkAccessCall = RuntimeCall(name: "bpfkit.riscv64.checkAccess", argumentCount: 3) { call throws(HelperError) in
        guard let raw = UnsafeMutableRawPointer(bitPattern: UInt(call.argument(1))) else {
            throw HelperError("the check routine was called without a run context")
        }
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let host = context.pointee.host!.assumingMemoryBound(to: RV64RunHost.self)
        let info = call.argument(3)
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
