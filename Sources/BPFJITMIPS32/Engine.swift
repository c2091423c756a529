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
        let helpers = try Self.helperTable(program, configuration: configuration)
        let machine: EmulatedMachine
        let targets: MIPS32CallTargets
        do throws(EmulatorError) {
            machine = try Self.machine(for: configuration, bigEndian: options.bigEndian, release6: options.release6)
            targets = try Self.targets(on: machine)
        } catch {
            throw .unsupportedHost(engine: name, reason: "the MIPS32 emulator: \(error)")
        }
        let plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: engine) }
        let allArrays = configuration.tailCalls?.allArrays ?? []
        guard allArrays.count <= MIPS32TailCalls.maxArrays else {
            throw .compilationFailed(pc: nil, reason: "more than \(MIPS32TailCalls.maxArrays) program arrays")
        }
        var tableIndex: [UInt64: Int] = [:]
        for (k, array) in allArrays.enumerated() { tableIndex[array.handle] = k }
        // Global data and direct map values: the loader left host addresses in
        // those loads; the code holds their guest addresses in the machine's fixed windows.
        let code: Program
        do throws(EmulatorError) {
            code = try machine.translatingAddressLoads(in: program, configuration.addressLoads)
        } catch {
            throw .compilationFailed(pc: nil, reason: "the guest addresses of global data: \(error)")
        }
        // Hardened: the translated program with its constants blinded
        // (`JITBlinding`); everything outside keeps the original numbering.
        let blinding = try Self.blinding(code, configuration: configuration)
        let compiledProgram = blinding?.program ?? code
        var backend = try Self.backend(program, configuration: configuration, helpers: helpers, options: options, targets: targets,
                                       tailCalls: blinding?.plan(plan) ?? plan, tableIndex: tableIndex, code: code,
                                       blinding: blinding)
        let info = JITProgramInfo(helpers: helpers, stackSize: backend.stackSize, unsupported: JITUnsupported.reasons(compiledProgram),
                                  origin: blinding?.origin)
        backend.programInfo = info.address
        let image: JITImage, allocation: CodeAllocation?
        do throws(JITError) {
            let compiled = try JITDriver.compile(compiledProgram, backend: &backend,
                                                 placement: .memory(MIPS32ImageMemory(machine, placement: placement)))
            let tagged = Self.tagged(compiled.0, bigEndian: options.bigEndian)
            try Self.checkLastPassesAgree(backend.passSizes, image: tagged)
            (image, allocation) = (blinding?.restore(tagged) ?? tagged, compiled.1)
        } catch {
            throw Self.engineError(blinding?.restore(error) ?? error)
        }
        do throws(EmulatorError) {
            let engine = self.engine
            let tables = allArrays.map {
                MemoryRegion(start: $0.nativeEntries(for: engine), count: 8 * $0.maxEntries, writable: false, kind: .other)
            }
            return try MIPS32EmulatedProgram(image: image, machine: machine, reservation: allocation!.token as! ImageReservation,
                                            backend: backend, instructionLimit: configuration.instructionLimit, info: info,
                                            attachments: attachments, tables: tables, bigEndian: options.bigEndian)
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the MIPS32 image into the emulator: \(error)")
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (listings, encoder tests).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: MIPS32Options = MIPS32Options(), at address: UInt,
                                targets: MIPS32CallTargets) throws(EngineError) -> JITImage {
        let helpers = try helperTable(program, configuration: configuration)
        let blinding = try blinding(program, configuration: configuration)
        var backend = try backend(program, configuration: configuration, helpers: helpers, options: options, targets: targets,
                                  tailCalls: nil, tableIndex: [:], blinding: blinding)
        do throws(JITError) {
            let image = tagged(try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0,
                               bigEndian: options.bigEndian)
            try checkLastPassesAgree(backend.passSizes, image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The image `bpfkit dump jited --arch mips32le|mips32be` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: MIPS32Options = MIPS32Options()) throws(EngineError) -> JITImage {
        try MIPS32JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    // MARK: Shared steps

    /// Programs that share program arrays share a machine too (a tail call
    /// branches from one image into another), with a larger stack: a tail
    /// call from a subprogram keeps the caller's frames while the target runs.
    final class Weak: @unchecked Sendable {
        weak var machine: EmulatedMachine?
        init(_ machine: EmulatedMachine) { self.machine = machine }
    }
    static let shared = Mutex<[[UInt64]: Weak]>([:])

    static func machine(for configuration: EngineConfiguration, bigEndian: Bool, release6: Bool) throws(EmulatorError) -> EmulatedMachine {
        let arrays = (configuration.tailCalls?.allArrays ?? []).map(\.handle)
        let row = architecture(bigEndian: bigEndian, release6: release6)
        guard !arrays.isEmpty else {
            return try EmulatedMachine(architecture: row, helpers: configuration.helpers,
                                       configuration: EmulatedMachine.Configuration(callsSeeMachineStack: false))
        }
        let key = arrays + [bigEndian ? 1 : 0, release6 ? 1 : 0]
        return try shared.withLock { (table) throws(EmulatorError) -> EmulatedMachine in
            table = table.filter { $0.value.machine != nil }
            if let machine = table[key]?.machine { return machine }
            let machine = try EmulatedMachine(architecture: row, helpers: configuration.helpers,
                                              configuration: EmulatedMachine.Configuration(stackSize: 1 << 20, callsSeeMachineStack: false))
            table[key] = Weak(machine)
            return machine
        }
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

    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> MIPS32CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        var routines: [MIPS32Routine: UInt64] = [:]
        for routine in MIPS32Routine.allCases {
            routines[routine] = try machine.runtimeCallAddress(for: MIPS32EmulatedProgram.runtimeCall(routine))
        }
        let check = try machine.runtimeCallAddress(for: MIPS32EmulatedProgram.checkAccessCall)
        return MIPS32CallTargets(helpers: addresses, checkAccess: check, routines: routines)
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

    /// The backend for `code` (or `program`), blinded when `blinding` is
    /// given (`blinding` is of `code`, or of `program` when there is no `code`).
    static func backend(_ program: Program, configuration: EngineConfiguration, helpers: JITHelperTable, options: MIPS32Options,
                        targets: MIPS32CallTargets, tailCalls: JITTailCallPlan?, tableIndex: [UInt64: Int],
                        code: Program? = nil, blinding: JITBlinding? = nil) throws(EngineError) -> MIPS32Backend {
        // The proofs are about `program`; `code` (what is compiled) differs
        // from it only in the constants of address loads, and its blinded
        // form maps every slot back to the one it came from.
        var proofs = JITProofs(configuration.proofs, program: program, instructionLimit: configuration.instructionLimit,
                               tailCalls: configuration.tailCalls)
        if let blinding { proofs = proofs.blinded(blinding) }
        do throws(JITError) {
            return try MIPS32Backend(program: blinding?.program ?? code ?? program, helpers: helpers, options: options, targets: targets,
                                     tailCalls: tailCalls, tableIndex: tableIndex, proofs: proofs)
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The constant-blinded form of `program` when the configuration asks
    /// for hardened code (`JITBlinding`; the auxiliary register is t8:t9,
    /// see `MIPS32RegisterMap`), else nil.
    static func blinding(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITBlinding? {
        guard configuration.hardened else { return nil }
        do throws(JITError) {
            return try JITBlinding.blind(program)
        } catch {
            throw engineError(error)
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

/// An emulated machine's code area as the JIT core's executable memory
/// (the address is reserved before a byte is generated).
final class MIPS32ImageMemory: CodeMemory {
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
struct MIPS32RunHost {
    let regions: MemoryRegions
    let stackSize: Int
    var error: ExecutionError?
}

/// A MIPS32 image loaded into its own emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 in a0:a1, r2 in a2:a3 and the guest address of a run
/// context (a page of host memory seen through a window) in the first
/// stack slot. The code writes why it stopped into the context; the slow
/// bounds check reads the stack bounds the prologue stored there.
public final class MIPS32EmulatedProgram: TailCallable {
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
    /// The tables of entries of every program array of the environment, in its order.
    let tables: [MemoryRegion]
    let bigEndian: Bool

    public var tailCallEngine: TailCallEngine { .emulatedJIT(bigEndian ? .mips32be : .mips32le) }
    /// Where a tail call enters: the image's entry, at its guest address.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Native instructions the emulator allows per unit of the BPF budget
    /// (the backend has no guard of its own yet: this is the runaway limit).
    static let nativePerBudgetUnit: UInt64 = 48
    static let pageSize = 4096

    init(image: JITImage, machine: EmulatedMachine, reservation: ImageReservation, backend: MIPS32Backend,
         instructionLimit: UInt64, info: JITProgramInfo, attachments: [TailCallAttachment] = [],
         tables: [MemoryRegion] = [], bigEndian: Bool = false) throws(EmulatorError) {
        self.attachments = attachments
        self.tables = tables
        self.bigEndian = bigEndian
        self.image = image
        self.machine = machine
        self.stackSize = backend.stackSize
        self.instructionLimit = instructionLimit
        self.passSizes = backend.passSizes
        self.info = info
        let scaled = instructionLimit.multipliedReportingOverflow(by: Self.nativePerBudgetUnit)
        nativeInstructionLimit = scaled.overflow ? .max : scaled.partialValue.addingReportingOverflow(1 << 12).partialValue
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
        func argument(_ value: UInt64) -> EmulatedArgument {
            input.regions.regions.contains { $0.count > 0 && $0.permits(value, size: 0, write: false) }
                ? .hostPointer(value) : .value(value)
        }
        let block = contexts.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: Self.pageSize, alignment: Self.pageSize)
        let blockAddress = UInt(bitPattern: block)
        defer { contexts.withLock { $0.append(blockAddress) } }
        let context = block.bindMemory(to: JITRunContext.self, capacity: 1)
        context.initialize(to: JITRunContext(instructionLimit: instructionLimit, regions: input.regions))
        defer { context.deinitialize(count: 1) }
        var host = MIPS32RunHost(regions: input.regions, stackSize: stackSize)
        let address = UInt64(blockAddress)
        // The context and the tail-call tables are memory the code reaches
        // through its windows, but no helper may: they are machine-only, and
        // helpers see the run's regions and the exact BPF stack (`callStack`).
        let machineOnly = [MemoryRegion(start: address, count: MemoryLayout<JITRunContext>.size, writable: true, kind: .other)]
            + tables
        if !tables.isEmpty {
            // The tables' guest addresses, where the code finds them (placement
            // depends only on the regions, machine-only ones placed after the run's).
            guard let space = try? machine.guestAddressSpace(for: MemoryRegions(input.regions.regions + machineOnly)) else {
                throw .unsupported(pc: 0, what: "placing the program arrays' tables in the 32-bit address space")
            }
            for (k, table) in tables.enumerated() {
                let guest = UInt32(truncatingIfNeeded: space.guestAddress(forHost: table.start) ?? 0)
                block.storeBytes(of: guest, toByteOffset: MIPS32TailCalls.tableWords + 4 * k, as: UInt32.self)
            }
        }
        let arguments = [argument(input.r1), argument(input.r2), .hostPointer(address)]
        // What a tail call compares r1 with: the value the code sees (a guest address for a pointer).
        switch arguments[0] {
        case .value(let r1): context.pointee.entryContext = r1
        case .hostPointer(let r1):
            let space = try? machine.guestAddressSpace(for: MemoryRegions(input.regions.regions + machineOnly))
            context.pointee.entryContext = space?.guestAddress(forHost: r1) ?? r1
        }
        let callStack = Self.bpfStack(context: blockAddress)
        let outcome: Result<EmulatedRun, ExecutionError> = withUnsafeMutablePointer(to: &host) { hostPointer in
            context.pointee.host = UnsafeMutableRawPointer(hostPointer)
            do throws(ExecutionError) {
                return .success(try program.run(arguments: arguments, regions: input.regions, machineOnly: machineOnly,
                                                 callStack: callStack, pointerWords: input.pointerWords))
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

    /// What helpers see of the machine stack: the BPF stack of the program
    /// whose code runs now, `[stackBase, stackEnd)` as its entry prologue
    /// stored them in the context (guest addresses; a tail call's target
    /// stores its own, the caller's come back when it returns) — never the
    /// rest of the machine stack, which holds saved registers and return
    /// addresses, as on arm64 and the native engines.
    static func bpfStack(context: UInt) -> CallStackBounds {
        {
            let frame = UnsafeRawPointer(bitPattern: context)!.load(as: NativeHelperFrame.self)
            return (frame.stackBase & 0xffff_ffff, frame.stackEnd & 0xffff_ffff)
        }
    }

    private func failure(status: UInt64, context: JITRunContext, host: MIPS32RunHost) -> ExecutionError {
        let kind = UInt32(truncatingIfNeeded: status >> 24), pc = Int(status & 0xff_ffff)
        switch kind {
        case JITStatus.instructionLimit: return .instructionLimit(pc: pc, limit: instructionLimit)
        case JITStatus.callDepth: return .callDepthExceeded(pc: pc, limit: ExecutionLimits.maxCallFrames)
        case JITStatus.unsupported:
            let program = JITProgramInfo.current(in: context) ?? info
            return .unsupported(pc: pc, what: program.unsupported[pc] ?? "this instruction")
        case JITStatus.notAProgramArray: return .notAProgramArray(pc: pc, value: context.dynamicHelper)
        case JITStatus.tailCallContext: return .tailCallContextMismatch(pc: pc)
        case MIPS32Status.dynamicHelperMissing:
            let value = context.dynamicHelper
            guard let id = Int32(exactly: Int64(bitPattern: value)) else {
                return .unsupported(pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
            }
            return .unknownHelper(pc: pc, id: id)
        default:
            return host.error ?? .unsupported(pc: pc, what: "an unknown JIT status \(status)")
        }
    }

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

    /// The slow bounds check: `(context, address, info)`, all guest values.
    /// The stack bounds in the context are guest addresses; any other
    /// address must translate to host memory one of the run's regions
    /// permits, all of its bytes through one window.
    public static let checkAccessCall = RuntimeCall(name: "bpfkit.mips32.checkAccess", argumentCount: 3) { call throws(HelperError) in
        guard let contextHost = call.memory.hostAddress(forGuest: call.argument(1)),
              let raw = UnsafeMutableRawPointer(bitPattern: UInt(contextHost)) else {
            throw HelperError("the check routine was called without a run context")
        }
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let host = context.pointee.host!.assumingMemoryBound(to: MIPS32RunHost.self)
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
        if case .outOfBounds(let pc, let address, let size, let write) = error, let hostAddress = space.hostAddress(forGuest: address) {
            error = .outOfBounds(pc: pc, address: hostAddress, size: size, write: write)
        }
        host.pointee.error = error
        context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: Int(info >> 8)))
        return 1
    }
}
