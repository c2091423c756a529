import BPFISA
import BPFRuntime

/// How JITed code guards its memory accesses.
public enum MemoryChecking: String, Sendable, Hashable, CaseIterable {
    /// Every load, store and atomic not proven safe at compile time is checked:
    /// inline against the first input region and the BPF stack, then (out of
    /// line, per access) against the run's dynamic region, then by a call
    /// into the host against all the run's regions. Out of bounds stops the run
    /// with `ExecutionError.outOfBounds`, exactly as in the interpreter. The default.
    case checked
    /// No checks: reserved for programs a verifier has proven safe. A bad
    /// program compiled this way can crash the host.
    case unchecked
}

/// Options every native JIT honours.
public struct JITOptions: Sendable, Hashable {
    public var memoryChecking: MemoryChecking
    public init(memoryChecking: MemoryChecking = .checked) { self.memoryChecking = memoryChecking }
}

/// A program compiled to native code and placed in executable memory.
///
/// Entry ABI (every native backend): a C function
/// `(r1: UInt64, r2: UInt64, context: JITRunContext *) -> UInt64`
/// returning r0; the context may be nil when `image.usesRunContext` is false.
/// Safe to run from several threads at once: each run has its own context and
/// stack, and the image is never written after it is placed.
public final class NativeProgram: PreparedProgram, @unchecked Sendable {
    public typealias Entry = @convention(c) (UInt64, UInt64, UnsafeMutableRawPointer?) -> UInt64

    public let image: JITImage
    /// Bytes of BPF stack the image reserves (all frames).
    public let stackSize: Int
    /// Whether the code reads or writes the run context (guards, checks, calls).
    public let usesRunContext: Bool
    public let instructionLimit: UInt64
    let helpers: JITHelperTable
    /// Why the instructions compiled to an `unsupported` stop cannot run, by slot.
    let unsupported: [Int: String]
    private let memory: any CodeMemory
    private let allocation: CodeAllocation
    @usableFromInline let entry: Entry

    public init(image: JITImage, memory: any CodeMemory, allocation: CodeAllocation, helpers: JITHelperTable,
                stackSize: Int, usesRunContext: Bool, instructionLimit: UInt64, unsupported: [Int: String] = [:]) {
        self.image = image
        self.unsupported = unsupported
        self.memory = memory
        self.allocation = allocation
        self.helpers = helpers
        self.stackSize = stackSize
        self.usesRunContext = usesRunContext
        self.instructionLimit = instructionLimit
        entry = unsafeBitCast(UnsafeRawPointer(bitPattern: allocation.address)!, to: Entry.self)
    }

    deinit { memory.free(allocation) }

    /// Runs the program with the interpreter's input conventions.
    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try run(r1: input.r1, r2: input.r2, regions: input.regions, dynamicRegion: input.dynamicRegion)
    }

    /// Runs with the given argument registers and memory regions.
    public func run(r1: UInt64, r2: UInt64, regions: MemoryRegions,
                    dynamicRegion: DynamicRegion? = nil) throws(ExecutionError) -> UInt64 {
        var context = JITRunContext(instructionLimit: instructionLimit, regions: regions)
        var host = RunHost(program: self, regions: regions)
        let r0 = withUnsafeMutablePointer(to: &host) { hostPointer in
            context.host = UnsafeMutableRawPointer(hostPointer)
            return withUnsafeMutablePointer(to: &context) {
                JITRunContext.setDynamicRegion(dynamicRegion, in: $0)
                return entry(r1, r2, UnsafeMutableRawPointer($0))
            }
        }
        if context.status != 0 { throw failure(status: context.status, host: host) }
        return r0
    }

    private func failure(status: UInt64, host: RunHost) -> ExecutionError {
        let kind = UInt32(truncatingIfNeeded: status >> 24), pc = Int(status & 0xff_ffff)
        switch kind {
        case JITStatus.instructionLimit: return .instructionLimit(pc: pc, limit: instructionLimit)
        case JITStatus.callDepth: return .callDepthExceeded(pc: pc, limit: ExecutionLimits.maxCallFrames)
        case JITStatus.unsupported: return .unsupported(pc: pc, what: unsupported[pc] ?? "this instruction")
        default: return host.error ?? .unsupported(pc: pc, what: "an unknown JIT status \(status)")
        }
    }

    /// The fast call path for embedders (no input regions).
    public var function: JITFunction { JITFunction(program: self) }
}

/// A direct handle on a compiled program for embedders who call it often:
/// `let f = program.function; let r0 = try f(r1, r2)`.
///
/// A program that cannot fail (no memory access left to check, no calls,
/// no backward jumps) is entered directly with no run context: the call is
/// one indirect native call. Others get a context on the stack.
public struct JITFunction: @unchecked Sendable {
    @usableFromInline let entry: NativeProgram.Entry
    @usableFromInline let direct: Bool
    @usableFromInline let program: NativeProgram

    init(program: NativeProgram) {
        self.program = program
        entry = program.entry
        direct = !program.usesRunContext
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ r1: UInt64 = 0, _ r2: UInt64 = 0) throws(ExecutionError) -> UInt64 {
        if direct { return entry(r1, r2, nil) }
        return try program.run(r1: r1, r2: r2, regions: MemoryRegions())
    }
}
