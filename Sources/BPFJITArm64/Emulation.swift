import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

/// An emulated machine's code area as the JIT core's executable memory:
/// `allocate` reserves the image's address before a byte is generated (so
/// the passes at the address can decide each call's form), and the
/// reservation travels as the allocation's token until the image is loaded.
/// The bytes are loaded by `Arm64EmulatedProgram`, which also needs the
/// pc map, so `copy` has nothing to do.
final class EmulatorImageMemory: CodeMemory {
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

    /// The reservation is given back when the last reference to it goes.
    func free(_ allocation: CodeAllocation) {}

    func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError) {
        throw CodeMemoryError("emulated images are not patched in place")
    }
}

/// The host side of one emulated run, which the check routine reaches
/// through `JITRunContext.host`.
struct EmulatedRunHost {
    let regions: MemoryRegions
    let stackSize: Int
    var error: ExecutionError?
}

/// An arm64 image loaded into its own emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 and r2 in x0 and x1 and, when the code uses it, a run
/// context in x2: a page of host memory, added to the run's regions so that
/// the emulated CPU sees it at its host address, and taken from a small
/// pool so that consecutive runs reuse the page the engine already mapped.
/// Helper calls land on the machine's trampolines and run the Swift helpers;
/// slow bounds checks call `checkAccessCall`; a runaway program stops on the
/// image's own guard, and the emulator's count of native instructions is a
/// backstop behind it.
public final class Arm64EmulatedProgram: TailCallable {
    public let image: JITImage
    public let machine: EmulatedMachine
    public let program: EmulatedProgram
    /// Bytes of BPF stack the image reserves (all frames).
    public let stackSize: Int
    /// Whether the code reads or writes the run context.
    public let usesRunContext: Bool
    public let instructionLimit: UInt64
    /// The emulator's own budget of native instructions per run.
    public let nativeInstructionLimit: UInt64
    /// Image size after each pass of the compile (the last two agree).
    public let passSizes: [Int]
    /// What the check routine and error reports consult while this program's code runs.
    public let info: JITProgramInfo
    let tailCalls: TailCalls

    /// A program's registrations with the program arrays it loads, and the
    /// tables of native entries its runs must be able to read.
    struct TailCalls: Sendable {
        var attachments: [TailCallAttachment] = []
        var tables: [MemoryRegion] = []
    }
    /// Context pages not in use, by address (pointers are not Sendable).
    private let contexts = Mutex<[UInt]>([])

    /// Native instructions the backstop allows per unit of the BPF budget:
    /// more than any loop body's code per BPF instruction it charges.
    static let nativePerBudgetUnit: UInt64 = 32
    /// The emulator's page size: a context block fills one page of its own.
    static let pageSize = 4096

    init(image: JITImage, machine: EmulatedMachine, reservation: ImageReservation, backend: Arm64Backend,
         instructionLimit: UInt64, info: JITProgramInfo, tailCalls: TailCalls = TailCalls()) throws(EmulatorError) {
        self.image = image
        self.machine = machine
        self.stackSize = backend.stackSize
        self.usesRunContext = backend.statistics.usesRunContext
        self.instructionLimit = instructionLimit
        self.passSizes = backend.passSizes
        self.info = info
        self.tailCalls = tailCalls
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

    public var tailCallEngine: TailCallEngine { .emulatedJIT(.arm64) }
    /// Where a tail call enters: the image's entry, at its address in the machine.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Runs once; the result says how many native instructions the
    /// emulated CPU executed (helpers not included).
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        // In flight until it returns: what it looked up and tail-calls stays valid (`RunLifetime`).
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        let arguments: [EmulatedArgument] = [.value(input.r1), .value(input.r2)]
        // Without a run context the code calls no helper (every helper call
        // uses it, see `Arm64Backend`): no stack to show anyone.
        guard usesRunContext else { return try emulate(arguments: arguments, regions: input.regions) }

        let block = contexts.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: Self.pageSize, alignment: Self.pageSize)
        let blockAddress = UInt(bitPattern: block)
        defer { contexts.withLock { $0.append(blockAddress) } }
        let context = block.bindMemory(to: JITRunContext.self, capacity: 1)
        context.initialize(to: JITRunContext(instructionLimit: instructionLimit, regions: input.regions))
        context.pointee.entryContext = input.r1
        defer { context.deinitialize(count: 1) }
        var host = EmulatedRunHost(regions: input.regions, stackSize: stackSize)
        let address = UInt64(UInt(bitPattern: block))
        // The context and the tail-call tables are memory the code reaches at
        // their host addresses, but no helper may: they are machine-only.
        // The program's own accesses are checked against `input.regions` and
        // the BPF stack only.
        let machineOnly = [MemoryRegion(start: address, count: MemoryLayout<JITRunContext>.size, writable: true, kind: .other)]
            + tailCalls.tables
        let regions = Self.withBPFStack(input.regions, context: address)
        let outcome: Result<EmulatedRun, ExecutionError> = withUnsafeMutablePointer(to: &host) { hostPointer in
            context.pointee.host = UnsafeMutableRawPointer(hostPointer)
            do throws(ExecutionError) {
                return .success(try emulate(arguments: arguments + [.value(address)], regions: regions, machineOnly: machineOnly))
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
    /// prologue stored them in the context (a tail call's target stores its
    /// own; the caller's come back when it returns) — never the rest of the
    /// machine stack, which holds saved registers and return addresses. The
    /// native engines give helpers the same (`RunHost.memoryAccess`).
    static func withBPFStack(_ regions: MemoryRegions, context: UInt64) -> MemoryRegions {
        let inner = regions.resolver
        return MemoryRegions(regions.regions) { address, size, write in
            let frame = UnsafeRawPointer(bitPattern: UInt(context))!.load(as: NativeHelperFrame.self)
            if frame.stackEnd > frame.stackBase, frame.inStack(address, count: size) { return true }
            return inner?(address, size, write) ?? false
        }
    }

    private func emulate(arguments: [EmulatedArgument], regions: MemoryRegions,
                         machineOnly: [MemoryRegion] = []) throws(ExecutionError) -> EmulatedRun {
        do {
            return try program.run(arguments: arguments, regions: regions, machineOnly: machineOnly)
        } catch .instructionLimit(let pc, _) {
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
        case Arm64Status.dynamicHelperMissing:
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
    /// as `JITHostRoutines.checkAccess` takes them natively, with the same
    /// verdict (`JITHostRoutines.accessError`). The context is host memory
    /// (identity-mapped); the machine has written the program's stores back
    /// before the call and copies the status in after it.
    public static let checkAccessCall = RuntimeCall(name: "bpfkit.arm64.checkAccess", argumentCount: 3) { call throws(HelperError) in
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
