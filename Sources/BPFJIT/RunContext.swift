import BPFISA
import BPFRuntime

/// The block of memory one run of JITed code shares with the host, reached
/// from native code through a pinned register (x86-64: r12) at the offsets
/// of `JITRunContext.Layout`.
///
/// It lives on the Swift stack of the thread that runs the program, so
/// concurrent runs never share one. JITed code reads the guard budget and the
/// first input region's bounds from it, writes why it stopped, and passes it
/// to the host routines (helper calls, slow bounds checks) as their last
/// argument.
public struct JITRunContext {
    /// What native helper entries see: the BPF stack's bounds and the full
    /// helper call as their fallback. First, so that the context's address
    /// is the frame's (`NativeHelper` entries get it as their sixth argument).
    public var helperFrame = NativeHelperFrame()
    /// Remaining runaway-guard budget; JITed code stops the run when it goes negative.
    public var budget: Int64 = 0
    /// 0 while running; otherwise `JITStatus` of why the run stopped.
    public var status: UInt64 = 0
    /// The helper call being made: `helper slot << 24 | pc` (stored before every call).
    public var site: UInt64 = 0
    /// Helper number for a call through a register (`callx`).
    public var dynamicHelper: UInt64 = 0
    /// Native stack pointer of the entry frame, restored to unwind on an error.
    public var exitStack: UInt64 = 0
    /// Lowest byte of the BPF stack (all frames); set by the entry prologue
    /// (with `helperFrame.stackEnd`, one past its last byte).
    public var stackBase: UInt64 {
        get { helperFrame.stackBase }
        set { helperFrame.stackBase = newValue }
    }
    /// First byte of the first input region.
    public var inputStart: UInt64 = 0
    /// For accesses of 1, 2, 4 and 8 bytes: how many start offsets into the
    /// first input region are valid (`count - size + 1`, or 0), for reads and writes.
    public var read1: UInt64 = 0, read2: UInt64 = 0, read4: UInt64 = 0, read8: UInt64 = 0
    public var write1: UInt64 = 0, write2: UInt64 = 0, write4: UInt64 = 0, write8: UInt64 = 0
    /// The host side of the run (`RunHost`), for the host routines.
    public var host: UnsafeMutableRawPointer?
    /// Addresses of the words holding the run's dynamic region's live start
    /// and end (`DynamicRegion`), for reads and for writes. JITed code loads
    /// them and compares against their targets on every access that misses
    /// the stack and the first input region. Without a region (or for writes
    /// to a read-only one) they point at `noStart`/`noEnd` in this context.
    public var dynamicReadStart: UInt64 = 0, dynamicReadEnd: UInt64 = 0
    public var dynamicWriteStart: UInt64 = 0, dynamicWriteEnd: UInt64 = 0
    /// Bounds no access passes (start `UInt64.max`, end 0).
    public var noStart: UInt64 = .max, noEnd: UInt64 = 0
    /// Tail calls made so far in this run: one counter per run, which every
    /// frame of every program the run enters reaches through the context
    /// (the kernel's "tail call hierarchy" fix gives each frame a pointer to
    /// the entry frame's counter for the same reason).
    public var tailCallCount: UInt64 = 0
    /// The `JITProgramInfo` of the program whose code runs now: each entry
    /// prologue stores its own, so that after a tail call the host routines
    /// use the target's helpers and stack size.
    public var program: UnsafeRawPointer?
    /// The run's context pointer: r1 as the host entered the run. Every
    /// tail call compares its r1 with it (`ExecutionError.tailCallContextMismatch`).
    public var entryContext: UInt64 = 0

    public init() { helperFrame.fallback = JITHostRoutines.callHelper }

    /// The context a run starts with: the guard's budget and the first
    /// input region's bounds (native runs and emulated ones fill it alike).
    public init(instructionLimit: UInt64, regions: borrowing MemoryRegions) {
        self.init()
        budget = Int64(clamping: instructionLimit)
        guard let first = regions.regions.first else { return }
        inputStart = first.start
        let count = UInt64(max(first.count, 0))
        func limit(_ size: UInt64) -> UInt64 { count >= size ? count - size + 1 : 0 }
        read1 = limit(1); read2 = limit(2); read4 = limit(4); read8 = limit(8)
        if first.writable {
            write1 = read1; write2 = read2; write4 = read4; write8 = read8
        }
    }

    /// Byte offsets of the fields native code touches.
    public struct Layout: Sendable {
        public let budget: Int32, status: Int32, site: Int32, dynamicHelper: Int32
        public let exitStack: Int32, stackBase: Int32, stackEnd: Int32, inputStart: Int32
        public let tailCallCount: Int32, program: Int32, entryContext: Int32

        /// Offset of the read or write limit for an access of `size` bytes.
        public func limit(size: Int, write: Bool) -> Int32 {
            let index: Int32 = switch size { case 1: 0; case 2: 1; case 4: 2; default: 3 }
            return (write ? write1 : read1) + 8 * index
        }

        /// Offsets of the words holding the addresses of the dynamic
        /// region's start and end for an access of this direction.
        public func dynamicBounds(write: Bool) -> (start: Int32, end: Int32) {
            write ? (dynamicWriteStart, dynamicWriteStart + 8) : (dynamicReadStart, dynamicReadStart + 8)
        }

        let read1: Int32, write1: Int32
        let dynamicReadStart: Int32, dynamicWriteStart: Int32
    }

    /// Points the dynamic-region fields at `region`'s words, or at this
    /// context's own never-passing bounds. Call it where the context will
    /// stay for the run (its address is taken for the no-region case).
    public static func setDynamicRegion(_ region: DynamicRegion?, in context: UnsafeMutablePointer<JITRunContext>) {
        let raw = UInt64(UInt(bitPattern: context))
        let noStart = raw + UInt64(MemoryLayout<JITRunContext>.offset(of: \.noStart)!)
        let noEnd = raw + UInt64(MemoryLayout<JITRunContext>.offset(of: \.noEnd)!)
        let start = region?.startWord ?? noStart, end = region?.endWord ?? noEnd
        context.pointee.dynamicReadStart = start
        context.pointee.dynamicReadEnd = end
        let writable = region?.writable ?? false
        context.pointee.dynamicWriteStart = writable ? start : noStart
        context.pointee.dynamicWriteEnd = writable ? end : noEnd
    }

    public static let layout: Layout = {
        func offset(_ path: PartialKeyPath<JITRunContext>) -> Int32 {
            Int32(MemoryLayout<JITRunContext>.offset(of: path)!)
        }
        let layout = Layout(budget: offset(\.budget), status: offset(\.status), site: offset(\.site),
                            dynamicHelper: offset(\.dynamicHelper), exitStack: offset(\.exitStack),
                            stackBase: offset(\.helperFrame.stackBase), stackEnd: offset(\.helperFrame.stackEnd),
                            inputStart: offset(\.inputStart),
                            tailCallCount: offset(\.tailCallCount), program: offset(\.program),
                            entryContext: offset(\.entryContext),
                            read1: offset(\.read1), write1: offset(\.write1),
                            dynamicReadStart: offset(\.dynamicReadStart), dynamicWriteStart: offset(\.dynamicWriteStart))
        precondition(offset(\.helperFrame) == 0, "JITRunContext must start with its NativeHelperFrame")
        // The per-size limits are read as arrays of four.
        precondition(offset(\.read8) == layout.read1 + 24 && offset(\.write8) == layout.write1 + 24,
                     "JITRunContext limits must be contiguous")
        precondition(offset(\.dynamicReadEnd) == layout.dynamicReadStart + 8
                     && offset(\.dynamicWriteEnd) == layout.dynamicWriteStart + 8,
                     "JITRunContext dynamic bounds must be pairs")
        return layout
    }()
}

/// Why JITed code stopped, as it writes it into `JITRunContext.status`:
/// `kind << 24 | pc`. Native stubs build it with one 32-bit move.
public enum JITStatus {
    /// The runaway guard's budget ran out.
    public static let instructionLimit: UInt32 = 1
    /// A local call would exceed the frame limit.
    public static let callDepth: UInt32 = 2
    /// An instruction the engine cannot execute was reached (kfunc calls).
    public static let unsupported: UInt32 = 3
    /// A tail call whose r2 is no program array the program loads; the
    /// value is in `JITRunContext.dynamicHelper`.
    public static let notAProgramArray: UInt32 = 4
    /// A tail call whose r1 is not the run's context (`JITRunContext.entryContext`).
    public static let tailCallContext: UInt32 = 5
    /// The host recorded the error (helper failure, bounds violation, unknown helper).
    public static let host: UInt32 = 0xff

    /// Largest pc the status word can carry.
    public static let maxPC = (1 << 24) - 1

    /// The status word for `kind` at `pc`.
    @inlinable public static func word(_ kind: UInt32, pc: Int) -> UInt32 { kind << 24 | UInt32(pc) }
}

/// Packs an access for the slow bounds check:
/// `pc << 8 | atomic << 5 | write << 4 | size`.
public enum JITAccessInfo {
    @inlinable public static func word(pc: Int, size: Int, write: Bool, atomic: Bool = false) -> UInt32 {
        UInt32(pc) << 8 | (atomic ? 0x20 : 0) | (write ? 0x10 : 0) | UInt32(size)
    }
}

/// Instructions a JIT compiles to a stop with `ExecutionError.unsupported`,
/// and the interpreter's words for them, so both engines report alike.
public enum JITUnsupported {
    /// Why the instruction cannot run, or nil if it can.
    public static func reason(_ instruction: Instruction) -> String? {
        switch instruction {
        case .call(.kfunc(let btfID)):
            "a kernel function call (kfunc, BTF id \(btfID))"
        case .loadImmediate64(_, let kind) where kind.sourceField != 0:
            "an unresolved 64-bit immediate load of kind \(kind.sourceField) (\(kind))"
        default:
            nil
        }
    }

    /// Reasons by slot, for the instructions of `program` that cannot run.
    public static func reasons(_ program: Program) -> [Int: String] {
        var reasons: [Int: String] = [:]
        for (pc, instruction) in program.instructions.enumerated() {
            if let reason = reason(instruction) { reasons[pc] = reason }
        }
        return reasons
    }
}
