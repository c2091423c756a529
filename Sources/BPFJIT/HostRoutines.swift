import BPFISA
import BPFRuntime

/// What the host routines need to know about the program whose code is
/// running: its helpers, its BPF stack size, and why its unsupported
/// instructions cannot run. Each entry prologue stores the address of its
/// program's info in `JITRunContext.program`; the `NativeProgram` keeps it alive.
public final class JITProgramInfo: @unchecked Sendable {
    public let helpers: JITHelperTable
    /// Bytes of BPF stack the image reserves (all frames).
    public let stackSize: Int
    /// Why the instructions compiled to an `unsupported` stop cannot run, by slot.
    public let unsupported: [Int: String]
    /// When the code was compiled from a rewritten program (`JITBlinding`):
    /// the original slot of each compiled slot, so that run-time errors name
    /// the instruction of the program as loaded.
    public let origin: [Int]?

    /// The longest input (r2 at entry) the proofs the code was compiled
    /// with assume (`ProgramProofs.inputLengthLimit`); runs refuse longer ones.
    public let inputLengthLimit: Int?

    public init(helpers: JITHelperTable, stackSize: Int, unsupported: [Int: String] = [:], origin: [Int]? = nil,
                inputLengthLimit: Int? = nil) {
        self.inputLengthLimit = inputLengthLimit
        self.helpers = helpers
        self.stackSize = stackSize
        self.unsupported = unsupported
        self.origin = origin
    }

    /// `error`, raised by this program's code, in the original numbering.
    public func restore(_ error: ExecutionError) -> ExecutionError {
        guard let origin else { return error }
        return error.mappingPC { $0 >= 0 && $0 < origin.count ? origin[$0] : $0 }
    }

    /// The value native code stores in `JITRunContext.program`.
    public var address: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }

    static func at(_ pointer: UnsafeRawPointer) -> JITProgramInfo {
        Unmanaged<JITProgramInfo>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// The info of the program whose code runs (or stopped) in `context`,
    /// if its prologue named one.
    public static func current(in context: JITRunContext) -> JITProgramInfo? {
        context.program.map(JITProgramInfo.at)
    }
}

/// The host side of one run: what the C-ABI host routines need beyond the
/// run context. It lives on the Swift stack during the run; the context's
/// `host` field points at it.
///
/// It borrows what the run already holds instead of copying it: the entered
/// program's info unretained (its `NativeProgram` is alive for the run) and
/// the caller's regions through a pointer. A copy would cost a retain and a
/// release of each reference in it on every run, which measured as most of
/// the cost of a short run (profile in docs/PERFORMANCE.md).
struct RunHost {
    /// The program the host entered (used until an entry prologue names one).
    let enteredProgram: Unmanaged<JITProgramInfo>
    let regionsPointer: UnsafePointer<MemoryRegions>

    init(entry: JITProgramInfo, regions: UnsafePointer<MemoryRegions>) {
        enteredProgram = .passUnretained(entry)
        regionsPointer = regions
    }

    var entry: JITProgramInfo { enteredProgram.takeUnretainedValue() }
    var regions: MemoryRegions { regionsPointer.pointee }
    /// Whether a static region or the resolver admits the access. It works on
    /// `regions` in place through the pointer, borrowing its array and closure
    /// rather than copying the run host (a retain and release each) on every call.
    static func permits(_ host: UnsafeMutablePointer<RunHost>, _ address: UInt64, size: Int, write: Bool) -> Bool {
        let regions = host.pointee.regionsPointer
        let found = regions.pointee.regions.withUnsafeBufferPointer { regions in
            regions.contains { $0.permits(address, size: size, write: write) }
        }
        if found { return true }
        guard let resolver = regions.pointee.resolver else { return false }
        return resolver(address, size, write)
    }

    /// What a run keeps once it calls into the host (a helper's memory
    /// access, an error); nil until then, so that the run host stays a plain
    /// value whose making and ending cost nothing on the runs that never do.
    private var lateState: Unmanaged<RunHostState>?

    var state: RunHostState {
        mutating get {
            if let lateState { return lateState.takeUnretainedValue() }
            let made = RunHostState()
            lateState = .passRetained(made)
            return made
        }
    }

    /// Ends the run on the host side: the error a host routine recorded, if any.
    mutating func finish() -> ExecutionError? {
        guard let lateState else { return nil }
        self.lateState = nil
        let error = lateState.takeUnretainedValue().error
        lateState.release()
        return error
    }

    /// The program whose code runs now.
    func program(_ context: UnsafeMutablePointer<JITRunContext>) -> JITProgramInfo {
        context.pointee.program.map(JITProgramInfo.at) ?? entry
    }

    mutating func memoryAccess(_ context: UnsafeMutablePointer<JITRunContext>) -> MemoryAccess {
        let stack = (base: context.pointee.stackBase, size: program(context).stackSize)
        let state = self.state
        if let access = state.access, state.accessStack == stack { return access }
        var all = regions
        if stack.size > 0 {
            all.regions.append(MemoryRegion(start: stack.base, count: stack.size, writable: true, kind: .stack))
        }
        let made = MemoryAccess(regions: all)
        state.access = made
        state.accessStack = stack
        return made
    }
}

/// The part of a run's host side made only when the run calls into the host.
final class RunHostState {
    /// Regions plus the BPF stack, built on the first helper call of the run
    /// and again when a tail call moved to another stack.
    var access: MemoryAccess?
    var accessStack: (base: UInt64, size: Int) = (0, -1)
    var error: ExecutionError?
}

/// Native entry points of the host routines JITed code calls. Each is a
/// non-capturing `@convention(c)` function: helper arguments arrive in the
/// first five argument registers (BPF r1–r5 are mapped onto them), the run
/// context last. Errors never unwind through native frames: a routine
/// records the error in the run, sets the context's status, and returns; the
/// JITed code checks the status and leaves through its error exit.
public enum JITHostRoutines {
    /// Arguments r1–r5 and the run context (a `JITRunContext`).
    public typealias HelperRoutine = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64, UnsafeMutableRawPointer) -> UInt64
    /// The run context, the address and `JITAccessInfo`.
    public typealias CheckRoutine = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64) -> UInt64

    /// Calls the helper named by `context.site` (slot and pc).
    public static let callHelper: HelperRoutine = { a1, a2, a3, a4, a5, raw in
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let site = context.pointee.site
        let pc = Int(site & 0xff_ffff), slot = Int(site >> 24)
        let host = context.pointee.host!.assumingMemoryBound(to: RunHost.self)
        let helper: Helper
        if slot == JITHelperTable.dynamicSlot {
            let value = context.pointee.dynamicHelper
            guard let id = Int32(exactly: Int64(bitPattern: value)) else {
                host.pointee.state.error = .unsupported(
                    pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
                context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: pc))
                return 0
            }
            guard let found = host.pointee.program(context).helpers.registry[id] else {
                host.pointee.state.error = .unknownHelper(pc: pc, id: id)
                context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: pc))
                return 0
            }
            helper = found
        } else {
            helper = host.pointee.program(context).helpers.helpers[slot]
        }
        let call = HelperCall(helperID: helper.id, arguments: (a1, a2, a3, a4, a5),
                              memory: host.pointee.memoryAccess(context))
        do throws(HelperError) {
            return try helper.body(call)
        } catch {
            host.pointee.state.error = .helperFailed(pc: pc, id: helper.id, message: error.message)
            context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: pc))
            return 0
        }
    }

    /// The slow bounds check: is `[address, address + size)` inside the run's
    /// regions or the BPF stack (and, for atomics, naturally aligned)?
    /// Returns 0 when it is; otherwise records the error and returns 1.
    /// `info` is `JITAccessInfo.word`.
    ///
    /// The stack's bounds come from the context (`helperFrame`, which every
    /// entry prologue fills), and the regions are read in place, so that the
    /// check copies nothing and retains nothing on its way to the resolver.
    public static let checkAccess: CheckRoutine = { raw, address, info in
        let context = raw.assumingMemoryBound(to: JITRunContext.self)
        let host = context.pointee.host!.assumingMemoryBound(to: RunHost.self)
        let frame = context.pointee.helperFrame
        guard let error = accessError(address: address, info: info, stackBase: frame.stackBase,
                                      stackSize: frame.stackEnd > frame.stackBase ? frame.stackEnd - frame.stackBase : 0,
                                      permits: { RunHost.permits(host, $0, size: $1, write: $2) }) else { return 0 }
        host.pointee.state.error = error
        context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: Int(info >> 8)))
        return 1
    }

    /// The slow bounds check's verdict, for `checkAccess` and for backends
    /// whose check routine runs elsewhere (under an emulator): nil when
    /// `[address, address + size)` lies in the BPF stack or `permits` admits it
    /// (the run's regions, read in place), and, for an atomic, is naturally
    /// aligned; otherwise the interpreter's error. `info` is `JITAccessInfo.word`.
    public static func accessError(address: UInt64, info: UInt64, stackBase base: UInt64, stackSize stack: UInt64,
                                   permits: (UInt64, Int, Bool) -> Bool) -> ExecutionError? {
        let pc = Int(info >> 8), size = Int(info & 0xf), write = info & 0x10 != 0, atomic = info & 0x20 != 0
        let inStack = stack > 0 && address >= base && address - base <= stack && UInt64(size) <= stack - (address - base)
        guard inStack || permits(address, size, write) else {
            return .outOfBounds(pc: pc, address: address, size: size, write: write)
        }
        // Atomics must be naturally aligned, as the interpreter (and the
        // kernel's verifier) require: some hosts fault on misaligned ones.
        if atomic && address & UInt64(size - 1) != 0 {
            return .unsupported(pc: pc, what: "an atomic operation on the unaligned address 0x\(String(address, radix: 16))")
        }
        return nil
    }

    /// Address of `callHelper`, for call sites.
    public static var callHelperAddress: UInt { unsafeBitCast(callHelper, to: UInt.self) }
    /// Address of `checkAccess`.
    public static var checkAccessAddress: UInt { unsafeBitCast(checkAccess, to: UInt.self) }
}
