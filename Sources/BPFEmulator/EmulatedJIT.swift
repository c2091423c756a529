import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

// What every JIT backend that runs under the emulator shares: its code area
// as the JIT core's executable memory, the machines its programs run on,
// and one run of a loaded image (`EmulatedJITRun`). A backend supplies its
// `EmulatedArchitecture` row, its check routine and status words; the rest
// is here.

/// An emulated machine's code area as the JIT core's executable memory:
/// `allocate` reserves the image's address before a byte is generated (so
/// the passes at the address can decide each call's form), and the
/// reservation travels as the allocation's token until the image is loaded
/// (`EmulatedJITRun`, which also needs the pc map), so `copy` has nothing to do.
public final class EmulatedImageMemory: CodeMemory {
    public let machine: EmulatedMachine
    public let placement: ImagePlacement

    public init(_ machine: EmulatedMachine, placement: ImagePlacement) {
        self.machine = machine
        self.placement = placement
    }

    public func allocate(size: Int, alignment: Int) throws(CodeMemoryError) -> CodeAllocation {
        do throws(EmulatorError) {
            let reservation = try machine.reserveImage(size: size, placement: placement)
            return CodeAllocation(address: UInt(reservation.address), size: reservation.size, token: reservation)
        } catch {
            throw CodeMemoryError(error.description)
        }
    }

    public func copy(_ bytes: [UInt8], into allocation: CodeAllocation) throws(CodeMemoryError) {}

    /// The reservation is given back when the last reference to it goes.
    public func free(_ allocation: CodeAllocation) {}

    public func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError) {
        throw CodeMemoryError("emulated images are not patched in place")
    }
}

/// The machines emulated JIT programs run on.
///
/// A machine's helpers are fixed while it has programs, and making one
/// costs a Unicorn engine, its trampolines and mappings (far more than
/// compiling a small program), so programs share machines where that is
/// safe, and a machine whose programs are all gone is recycled for new
/// ones rather than rebuilt:
///
/// - programs that share program arrays share one (a tail call branches from
///   one image into another), with a larger stack: a tail call from a
///   subprogram keeps the caller's frames while the target runs, up to 33
///   deep. Keyed by the arrays and whatever else the backend keeps apart
///   (`variant`: byte order, placement). Its helpers are the first
///   program's: programs sharing arrays come from one object and share its helpers.
/// - programs without helpers share one machine per architecture and variant.
/// - any other program gets a machine of its own.
///
/// Machines of the first and last kinds come from a pool per
/// architecture, variant and stack size. The pool holds a reference to
/// each; a machine is free when that is the only one left (every program
/// on it, and every compile in progress for it, is gone), which, checked
/// under the pool's lock, cannot change until the pool hands it out again.
/// A free machine is recycled (`EmulatedMachine.recycle`): new helpers,
/// old images unmapped and their translated code dropped, fixed windows
/// forgotten, each engine's stack zeroed before its next run. Nothing of a
/// previous program survives but the engines themselves.
///
/// Helpers never see the machine stack (saved registers, return
/// addresses): each run names the BPF stack it is in.
public enum EmulatedJITMachines {
    /// The machine stack of machines whose programs tail-call.
    public static let tailCallStackSize = 1 << 20
    /// Free or busy machines kept per architecture, variant and stack size;
    /// beyond it, machines are made and dropped as before.
    public static let poolLimit = 8

    struct Key: Hashable {
        let architecture: EmulatedArchitecture
        let arrays: [UInt64]
        let variant: Int
    }
    struct PoolKey: Hashable {
        let architecture: EmulatedArchitecture
        let variant: Int
        let stackSize: Int
    }
    /// The pooled machines, and which of them serves which program arrays.
    struct Machines {
        var pool: [PoolKey: [EmulatedMachine]] = [:]
        var byArrays: [Key: ObjectIdentifier] = [:]
    }
    static let machines = Mutex(Machines())
    static let helperless = Mutex<[Key: EmulatedMachine]>([:])

    /// The machine for a program prepared with `configuration` on `architecture`.
    public static func machine(_ architecture: EmulatedArchitecture, for configuration: EngineConfiguration,
                               variant: Int = 0) throws(EmulatorError) -> EmulatedMachine {
        let arrays = (configuration.tailCalls?.allArrays ?? []).map(\.handle)
        let key = Key(architecture: architecture, arrays: arrays, variant: variant)
        guard !arrays.isEmpty else {
            guard configuration.helpers.all.isEmpty else {
                return try pooled(PoolKey(architecture: architecture, variant: variant, stackSize: 64 << 10),
                                  helpers: configuration.helpers, arrays: nil)
            }
            return try helperless.withLock { (table) throws(EmulatorError) -> EmulatedMachine in
                if let machine = table[key] { return machine }
                let machine = try EmulatedMachine(architecture: architecture,
                                                  configuration: EmulatedMachine.Configuration(callsSeeMachineStack: false))
                table[key] = machine
                return machine
            }
        }
        return try pooled(PoolKey(architecture: architecture, variant: variant, stackSize: tailCallStackSize),
                          helpers: configuration.helpers, arrays: key)
    }

    /// A machine of the pool `poolKey`: the one already serving `arrays`
    /// if it is in use, else a free one recycled for `helpers`, else a new one.
    static func pooled(_ poolKey: PoolKey, helpers: HelperRegistry, arrays: Key?) throws(EmulatorError) -> EmulatedMachine {
        try machines.withLock { (table) throws(EmulatorError) -> EmulatedMachine in
            // Out of the table while it is looked at: a copy of the array
            // would hold a second reference to every machine.
            var list = table.pool.removeValue(forKey: poolKey) ?? []
            defer { table.pool[poolKey] = list }
            var free: [Int] = []
            for index in list.indices {
                let id = ObjectIdentifier(list[index])
                if isKnownUniquelyReferenced(&list[index]) {
                    // Nothing uses it: whatever arrays it served are gone.
                    table.byArrays = table.byArrays.filter { $0.value != id }
                    free.append(index)
                } else if let arrays, table.byArrays[arrays] == id {
                    return list[index]
                }
            }
            let machine: EmulatedMachine
            if let first = free.first {
                machine = list[first]
                try machine.recycle(helpers: helpers)
                free.removeFirst()
            } else {
                machine = try EmulatedMachine(architecture: poolKey.architecture, helpers: helpers,
                                              configuration: EmulatedMachine.Configuration(stackSize: poolKey.stackSize,
                                                                                           callsSeeMachineStack: false))
                // Machines serving program arrays stay in the pool however
                // many there are: programs sharing the arrays find theirs there.
                guard list.count < poolLimit || arrays != nil else { return machine }
                list.append(machine)
            }
            if let arrays { table.byArrays[arrays] = ObjectIdentifier(machine) }
            // Free machines beyond the limit are dropped.
            for index in free.reversed() where list.count > poolLimit { list.remove(at: index) }
            return machine
        }
    }

    /// Where code on `machine` calls: every registered helper's trampoline,
    /// the check routine and each of the backend's routines.
    public static func targets<Routine>(on machine: EmulatedMachine, checkAccess: RuntimeCall, routines: [Routine],
                                        call: (Routine) -> RuntimeCall) throws(EmulatorError) -> JITCallTargets<Routine> {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        var calls: [Routine: UInt64] = [:]
        for routine in routines { calls[routine] = try machine.runtimeCallAddress(for: call(routine)) }
        return JITCallTargets(helpers: addresses, checkAccess: try machine.runtimeCallAddress(for: checkAccess), routines: calls)
    }
}

/// A prepared program that runs under the emulator and says what one run
/// cost the emulated CPU (`EmulatedRun.instructionCount`): what `bpfkit
/// bench` reports for an emulated JIT instead of time.
public protocol EmulatedJITProgram: PreparedProgram {
    /// Runs once, with the emulated CPU's native instruction count.
    func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun
}

/// The host side of one emulated run, which a backend's check routine
/// reaches through `JITRunContext.host`.
public struct EmulatedRunHost {
    public let regions: MemoryRegions
    public let stackSize: Int
    public var error: ExecutionError?
}

/// A JIT image loaded into an emulated machine and how one run of it goes,
/// the same for every emulated backend:
///
/// 1. the run is in flight until it returns (`RunLifetime`);
/// 2. a run context (`JITRunContext`, a page of host memory taken from a
///    small pool, so consecutive runs reuse the page an engine already
///    mapped) gets the budget, the first region's bounds, `entryContext`
///    (r1 as the code sees it) and a pointer to the `EmulatedRunHost`;
/// 3. the context and the program arrays' tables are *machine-only*: the
///    code reaches them, no helper may;
/// 4. helpers see the run's regions and the BPF stack of the program whose
///    code runs now, `[stackBase, stackEnd)` as its entry prologue stored
///    them in the context — never the rest of the machine stack;
/// 5. the emulator's own instruction limit is a backstop, reported with the
///    BPF budget; a status word the code left in the context becomes the
///    `ExecutionError`, named in the numbering of the program that stopped,
///    as loaded (`JITProgramInfo.restore`).
///
/// The entry arguments are r1, r2 and the context's address. A backend
/// holds one of these and forwards `execute`; all it adds is how its code
/// takes arguments (`Addressing`) and any status kinds of its own.
public final class EmulatedJITRun: Sendable {
    /// How the code sees host memory.
    public enum Addressing: Sendable, Hashable {
        /// 64-bit targets: host addresses unchanged. r1 and r2 are passed as
        /// they are; helpers' view of the BPF stack joins the run's resolver.
        case identity
        /// 32-bit targets: host pages through windows. r1 and r2 are passed
        /// as guest addresses when they point into the run's regions, and
        /// the guest address of each program array's table is written into
        /// the context block at `tableWords + 4 k` before the run.
        case translated(tableWords: Int)
    }

    public let program: EmulatedProgram
    public let info: JITProgramInfo
    /// The BPF budget a run reports when it stops (`instructionLimit`).
    public let instructionLimit: UInt64
    /// The emulator's budget of native instructions per run (a backstop
    /// behind the code's own guard).
    public var nativeInstructionLimit: UInt64 { program.instructionLimit }
    /// Bytes of BPF stack the image reserves (all frames).
    public let stackSize: Int
    /// Whether the code reads or writes the run context; code that does not
    /// calls no helper and is run without one.
    public let usesRunContext: Bool
    /// The tables of entries of every program array of the environment, in its order.
    public let tables: [MemoryRegion]
    public let addressing: Addressing
    /// The status kind the backend stops with when `callx` names no helper
    /// (the number is in `JITRunContext.dynamicHelper`).
    public let dynamicHelperMissing: UInt32
    /// Context pages not in use, by address (pointers are not Sendable).
    private let contexts = Mutex<[UInt]>([])

    /// The emulator's page size: a context block fills one page of its own.
    public static let pageSize = 4096

    /// Loads `image` into the reservation on `machine` it was compiled for.
    ///
    /// - Parameters:
    ///   - nativePerBudgetUnit: native instructions the emulator allows per
    ///     unit of the BPF budget, plus `nativeSlack` (the backstop).
    public init(image: JITImage, machine: EmulatedMachine, reservation: ImageReservation, info: JITProgramInfo,
                stackSize: Int, instructionLimit: UInt64, nativePerBudgetUnit: UInt64, nativeSlack: UInt64,
                addressing: Addressing, usesRunContext: Bool = true, tables: [MemoryRegion] = [],
                dynamicHelperMissing: UInt32) throws(EmulatorError) {
        self.info = info
        self.stackSize = stackSize
        self.instructionLimit = instructionLimit
        self.addressing = addressing
        self.usesRunContext = usesRunContext
        self.tables = tables
        self.dynamicHelperMissing = dynamicHelperMissing
        let scaled = instructionLimit.multipliedReportingOverflow(by: nativePerBudgetUnit)
        let native = scaled.overflow ? UInt64.max : scaled.partialValue.addingReportingOverflow(nativeSlack).partialValue
        let map = NativePCMap { [image] offset in image.instruction(containing: offset) }
        program = try machine.load(image: image.bytes, in: reservation, entryOffset: Int(image.functionOffsets[0]),
                                   pcMap: map, instructionLimit: native)
    }

    deinit {
        for address in contexts.withLock({ $0 }) { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
    }

    /// Runs once; the result says how many native instructions the emulated
    /// CPU executed (helpers not included).
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        // The code's proofs may rest on r2 being at most this (`ProgramProofs.inputLengthLimit`).
        try ExecutionError.checkInputLength(r2: input.r2, limit: info.inputLengthLimit)
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        let translated: Bool, tableWords: Int
        switch addressing {
        case .identity: (translated, tableWords) = (false, 0)
        case .translated(let words): (translated, tableWords) = (true, words)
        }
        func argument(_ value: UInt64) -> EmulatedArgument {
            translated && input.regions.regions.contains { $0.count > 0 && $0.permits(value, size: 0, write: false) }
                ? .hostPointer(value) : .value(value)
        }
        let arguments = [argument(input.r1), argument(input.r2)]
        guard usesRunContext else {
            return try emulate(arguments: arguments, regions: input.regions, pointerWords: translated ? input.pointerWords : [])
        }

        let block = contexts.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: Self.pageSize, alignment: Self.pageSize)
        let blockAddress = UInt(bitPattern: block)
        defer { contexts.withLock { $0.append(blockAddress) } }
        let context = block.bindMemory(to: JITRunContext.self, capacity: 1)
        context.initialize(to: JITRunContext(instructionLimit: instructionLimit, regions: input.regions))
        defer { context.deinitialize(count: 1) }
        var host = EmulatedRunHost(regions: input.regions, stackSize: stackSize)
        let address = UInt64(blockAddress)
        // The code reads the tables' guest addresses from the context page
        // (`tableWords`): machine-only too, as the emulator shows the code
        // nothing of a page but its regions.
        let tableAddresses = translated && !tables.isEmpty
            ? [MemoryRegion(start: address + UInt64(tableWords), count: 4 * tables.count, writable: false, kind: .other)] : []
        let machineOnly = [MemoryRegion(start: address, count: MemoryLayout<JITRunContext>.size, writable: true, kind: .other)]
            + tableAddresses + tables
        let regions: MemoryRegions, callStack: CallStackBounds?, contextArgument: EmulatedArgument
        if translated {
            // Guest placement depends only on the regions (machine-only ones
            // after the run's), so this is where the run will see them.
            let space = try? program.machine.guestAddressSpace(for: MemoryRegions(input.regions.regions + machineOnly))
            if !tables.isEmpty {
                guard let space else {
                    throw .unsupported(pc: 0, what: "placing the program arrays' tables in the 32-bit address space")
                }
                for (k, table) in tables.enumerated() {
                    let guest = UInt32(truncatingIfNeeded: space.guestAddress(forHost: table.start) ?? 0)
                    block.storeBytes(of: guest, toByteOffset: tableWords + 4 * k, as: UInt32.self)
                }
            }
            // What a tail call compares r1 with: the value the code sees.
            switch arguments[0] {
            case .value(let r1): context.pointee.entryContext = r1
            case .hostPointer(let r1): context.pointee.entryContext = space?.guestAddress(forHost: r1) ?? r1
            }
            regions = input.regions
            callStack = Self.bpfStack(context: blockAddress)
            contextArgument = .hostPointer(address)
        } else {
            context.pointee.entryContext = input.r1
            regions = Self.withBPFStack(input.regions, context: address)
            callStack = nil
            contextArgument = .value(address)
        }
        let outcome: Result<EmulatedRun, ExecutionError> = withUnsafeMutablePointer(to: &host) { hostPointer in
            context.pointee.host = UnsafeMutableRawPointer(hostPointer)
            do throws(ExecutionError) {
                return .success(try emulate(arguments: arguments + [contextArgument], regions: regions, machineOnly: machineOnly,
                                            callStack: callStack, pointerWords: translated ? input.pointerWords : []))
            } catch {
                return .failure(error)
            }
        }
        let run = try outcome.get()
        let status = context.pointee.status
        if status != 0 {
            let stopped = JITProgramInfo.current(in: context.pointee) ?? info
            throw stopped.restore(failure(status: status, context: context.pointee, host: host))
        }
        return run
    }

    /// A run's regions with the BPF stack of the program whose code runs now
    /// added to what the resolver permits (identity addressing: helpers
    /// reach the stack at its host address). The native engines give helpers
    /// the same (`RunHost.memoryAccess`).
    static func withBPFStack(_ regions: MemoryRegions, context: UInt64) -> MemoryRegions {
        let inner = regions
        return MemoryRegions(regions.regions, resolver: { address, size, write in
            let frame = UnsafeRawPointer(bitPattern: UInt(context))!.load(as: NativeHelperFrame.self)
            if frame.stackEnd > frame.stackBase, frame.inStack(address, count: size) { return true }
            return inner.resolver?(address, size, write) ?? false
        }, extents: { low, high in
            let frame = UnsafeRawPointer(bitPattern: UInt(context))!.load(as: NativeHelperFrame.self)
            let stack = frame.stackEnd > frame.stackBase ? [frame.stackBase..<frame.stackEnd] : []
            return stack + inner.resolvedRanges(low, high)
        })
    }

    /// The BPF stack as guest bounds (translated addressing: what the
    /// machine lets calls see of its stack).
    static func bpfStack(context: UInt) -> CallStackBounds {
        {
            let frame = UnsafeRawPointer(bitPattern: context)!.load(as: NativeHelperFrame.self)
            return (frame.stackBase & 0xffff_ffff, frame.stackEnd & 0xffff_ffff)
        }
    }

    private func emulate(arguments: [EmulatedArgument], regions: MemoryRegions, machineOnly: [MemoryRegion] = [],
                         callStack: CallStackBounds? = nil, pointerWords: [UInt64]) throws(ExecutionError) -> EmulatedRun {
        do {
            return try program.run(arguments: arguments, regions: regions, machineOnly: machineOnly, callStack: callStack,
                                   pointerWords: pointerWords)
        } catch .instructionLimit(let pc, _) {
            // The backstop stopped it: reported against the BPF budget.
            throw .instructionLimit(pc: pc, limit: instructionLimit)
        }
    }

    /// Why the code stopped, from the status word it left in the context.
    private func failure(status: UInt64, context: JITRunContext, host: EmulatedRunHost) -> ExecutionError {
        let kind = UInt32(truncatingIfNeeded: status >> 24), pc = Int(status & 0xff_ffff)
        switch kind {
        case JITStatus.instructionLimit: return .instructionLimit(pc: pc, limit: instructionLimit)
        case JITStatus.callDepth: return .callDepthExceeded(pc: pc, limit: ExecutionLimits.maxCallFrames)
        case JITStatus.unsupported:
            // The program that stopped (after a tail call, not necessarily this one).
            let program = JITProgramInfo.current(in: context) ?? info
            return .unsupported(pc: pc, what: program.unsupported[pc] ?? "this instruction")
        case JITStatus.notAProgramArray: return .notAProgramArray(pc: pc, value: context.dynamicHelper)
        case JITStatus.tailCallContext: return .tailCallContextMismatch(pc: pc)
        case dynamicHelperMissing:
            let value = context.dynamicHelper
            guard let id = Int32(exactly: Int64(bitPattern: value)) else {
                return .unsupported(pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
            }
            return .unknownHelper(pc: pc, id: id)
        default:
            return host.error ?? .unsupported(pc: pc, what: "an unknown JIT status \(status)")
        }
    }
}

/// A JIT backend whose images run under the emulator: what `EmulatedJIT.compile`
/// needs of it besides the pass driver's protocol.
public protocol EmulatedJITBackend: JITBackend {
    /// BPF stack bytes the image reserves (all frames).
    var stackSize: Int { get }
    /// Image size after each pass of the last compile.
    var passSizes: [Int] { get }
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context (set before the first pass).
    var programInfo: UInt64 { get set }

    // How a run of the backend's code goes (`EmulatedJITPreparedProgram`):
    /// How the code sees host memory (`EmulatedJITRun.Addressing`).
    static var addressing: EmulatedJITRun.Addressing { get }
    /// Native instructions the emulator allows per unit of the BPF budget,
    /// plus `nativeSlack` per run: a backstop behind the code's own runaway guard.
    static var nativePerBudgetUnit: UInt64 { get }
    static var nativeSlack: UInt64 { get }
    /// The status kind the code stops with when `callx` names no helper.
    static var dynamicHelperMissing: UInt32 { get }
}

/// What a backend is made from for an emulated compile (`EmulatedJIT.compile`).
public struct EmulatedJITInput {
    /// What to compile: the program with its address loads translated to the
    /// machine's fixed windows, and blinded when hardened.
    public let code: Program
    public let helpers: JITHelperTable
    /// The proofs about the program as loaded, asked through the blinding.
    public let proofs: JITProofs
    /// The tail-call plan, keyed by the slots of `code`.
    public let tailCalls: JITTailCallPlan?
}

/// An image compiled into a machine's code area, not loaded yet.
public struct EmulatedJITImage<Backend: EmulatedJITBackend> {
    /// In the numbering of the program as loaded.
    public let image: JITImage
    public let reservation: ImageReservation
    public let backend: Backend
    public let info: JITProgramInfo
    /// This engine's column of every program array of the environment, in its order.
    public let tables: [MemoryRegion]
}

/// The compile every emulated backend shares.
public enum EmulatedJIT {
    /// Compiles `program` into a code area of `machine` (`placement`):
    /// validates it and binds its helpers, translates the loader's address
    /// loads to the machine's fixed windows (32-bit targets), blinds the
    /// result when hardened, makes the backend with `makeBackend`, runs the
    /// pass driver at the reserved address and checks that the writing pass
    /// agrees with the one before. `tag` may rename the image's
    /// architecture (one backend type serving two byte orders). Errors name
    /// slots of the program as loaded.
    public static func compile<Backend: EmulatedJITBackend>(
        _ program: Program, configuration: EngineConfiguration, engine: TailCallEngine, machine: EmulatedMachine,
        placement: ImagePlacement, tag: (JITImage) -> JITImage = { $0 },
        makeBackend: (EmulatedJITInput) throws(JITError) -> Backend
    ) throws(EngineError) -> EmulatedJITImage<Backend> {
        let helpers = try JITEngineSteps.helperTable(program, configuration: configuration)
        let plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: engine) }
        // Global data and direct map values: the loader left host addresses in
        // those loads; the code holds their guest addresses in the machine's fixed windows.
        let code: Program
        do throws(EmulatorError) {
            code = try machine.translatingAddressLoads(in: program, configuration.addressLoads)
        } catch {
            throw .compilationFailed(pc: nil, reason: "the guest addresses of global data: \(error)")
        }
        // Hardened: the translated program with its constants blinded;
        // everything outside keeps the original numbering. The proofs are
        // about `program`, from which `code` differs only in constants.
        let blinding = try JITEngineSteps.blinding(code, configuration: configuration)
        let compiled = blinding?.program ?? code
        var backend: Backend
        do throws(JITError) {
            backend = try makeBackend(EmulatedJITInput(
                code: compiled, helpers: helpers,
                proofs: JITEngineSteps.proofs(program, configuration: configuration, blinding: blinding),
                tailCalls: blinding?.plan(plan) ?? plan))
        } catch {
            throw JITEngineSteps.engineError(blinding?.restore(error) ?? error)
        }
        let info = JITProgramInfo(helpers: helpers, stackSize: backend.stackSize, unsupported: JITUnsupported.reasons(compiled),
                                  origin: blinding?.origin, inputLengthLimit: configuration.inputLengthLimit(for: program))
        backend.programInfo = info.address
        let image: JITImage, allocation: CodeAllocation?
        do throws(JITError) {
            let placed = try JITDriver.compile(compiled, backend: &backend,
                                               placement: .memory(EmulatedImageMemory(machine, placement: placement)))
            let tagged = tag(placed.0)
            try JITEngineSteps.checkLastPassesAgree(backend.passSizes, image: tagged)
            (image, allocation) = (blinding?.restore(tagged) ?? tagged, placed.1)
        } catch {
            throw JITEngineSteps.engineError(blinding?.restore(error) ?? error)
        }
        guard let reservation = allocation?.token as? ImageReservation else {
            throw .compilationFailed(pc: nil, reason: "the image was not placed in the emulator's code area")
        }
        let tables = (configuration.tailCalls?.allArrays ?? []).map {
            MemoryRegion(start: $0.nativeEntries(for: engine), count: 8 * $0.maxEntries, writable: false, kind: .other)
        }
        return EmulatedJITImage(image: image, reservation: reservation, backend: backend, info: info, tables: tables)
    }

    /// What every emulated backend's `emulate` does: takes the machine of
    /// `architecture` for `configuration` (`variant` keeps images of one kind
    /// on machines of their own), finds the backend's call targets on it
    /// with `targets`, compiles `program` there (`compile`) with the backend
    /// `makeBackend` makes from the input and those targets, and loads the
    /// image as a prepared program holding `attachments`. `label` names the
    /// architecture in errors ("the arm32 emulator: …").
    public static func emulate<Backend: EmulatedJITBackend, Targets>(
        _ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment],
        engineName: String, label: String, architecture: EmulatedArchitecture, variant: Int = 0,
        engine: TailCallEngine, placement: ImagePlacement, tag: (JITImage) -> JITImage = { $0 },
        targets findTargets: (EmulatedMachine) throws(EmulatorError) -> Targets,
        makeBackend: (EmulatedJITInput, Targets) throws(JITError) -> Backend
    ) throws(EngineError) -> EmulatedJITPreparedProgram<Backend> {
        let machine: EmulatedMachine
        let targets: Targets
        do throws(EmulatorError) {
            machine = try EmulatedJITMachines.machine(architecture, for: configuration, variant: variant)
            targets = try findTargets(machine)
        } catch {
            throw .unsupportedHost(engine: engineName, reason: "the \(label) emulator: \(error)")
        }
        let compiled = try compile(program, configuration: configuration, engine: engine, machine: machine,
                                   placement: placement, tag: tag) { (input) throws(JITError) in
            try makeBackend(input, targets)
        }
        do throws(EmulatorError) {
            return try EmulatedJITPreparedProgram(compiled, machine: machine, engine: engine,
                                                  instructionLimit: configuration.instructionLimit, attachments: attachments)
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the \(label) image into the emulator: \(error)")
        }
    }
}
