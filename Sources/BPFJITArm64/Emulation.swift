import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

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
public final class Arm64EmulatedProgram: TailCallable, EmulatedJITProgram {
    public let image: JITImage
    /// Image size after each pass of the compile (the last two agree).
    public let passSizes: [Int]
    let tailCalls: TailCalls
    /// The run every emulated backend shares.
    let emulation: EmulatedJITRun

    public var machine: EmulatedMachine { emulation.program.machine }
    public var program: EmulatedProgram { emulation.program }
    /// Bytes of BPF stack the image reserves (all frames).
    public var stackSize: Int { emulation.stackSize }
    /// Whether the code reads or writes the run context.
    public var usesRunContext: Bool { emulation.usesRunContext }
    public var instructionLimit: UInt64 { emulation.instructionLimit }
    /// The emulator's own budget of native instructions per run.
    public var nativeInstructionLimit: UInt64 { emulation.nativeInstructionLimit }
    /// What the check routine and error reports consult while this program's code runs.
    public var info: JITProgramInfo { emulation.info }

    /// A program's registrations with the program arrays it loads, and the
    /// tables of native entries its runs must be able to read.
    struct TailCalls: Sendable {
        var attachments: [TailCallAttachment] = []
        var tables: [MemoryRegion] = []
    }

    /// Native instructions the backstop allows per unit of the BPF budget:
    /// more than any loop body's code per BPF instruction it charges.
    static let nativePerBudgetUnit: UInt64 = 32

    init(image: JITImage, machine: EmulatedMachine, reservation: ImageReservation, backend: Arm64Backend,
         instructionLimit: UInt64, info: JITProgramInfo, tailCalls: TailCalls = TailCalls()) throws(EmulatorError) {
        self.image = image
        self.passSizes = backend.passSizes
        self.tailCalls = tailCalls
        // Without a run context the code calls no helper (every helper call
        // uses it, see `Arm64Backend`): it runs without one.
        emulation = try EmulatedJITRun(image: image, machine: machine, reservation: reservation, info: info,
                                       stackSize: backend.stackSize, instructionLimit: instructionLimit,
                                       nativePerBudgetUnit: Self.nativePerBudgetUnit, nativeSlack: 1 << 20, addressing: .identity,
                                       usesRunContext: backend.statistics.usesRunContext, tables: tailCalls.tables,
                                       dynamicHelperMissing: Arm64Status.dynamicHelperMissing)
    }

    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try emulation.execute(input).value
    }

    public var tailCallEngine: TailCallEngine { .emulatedJIT(.arm64) }
    /// Where a tail call enters: the image's entry, at its address in the machine.
    public var tailCallEntry: UInt64 { UInt64(image.address) + UInt64(image.functionOffsets[0]) }

    /// Runs once; the result says how many native instructions the
    /// emulated CPU executed (helpers not included).
    public func execute(_ input: RunInput) throws(ExecutionError) -> EmulatedRun {
        try emulation.execute(input)
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
