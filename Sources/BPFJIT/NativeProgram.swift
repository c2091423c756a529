import CBPFPlatform
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
    /// Defence in depth: a BPF stack of up to this many bytes is zeroed at
    /// entry even when the verifier proved that no read sees an unwritten
    /// byte (`JITProofs.stackReadsInitialized`), so that a wrong proof of
    /// that fact shows the program zeros, not host stack. Larger stacks
    /// trust the proof. 0 trusts it always. See docs/ARCHITECTURE.md,
    /// *Defence in depth*.
    public var provenStackClearLimit: Int

    /// The default `provenStackClearLimit`: 64 bytes, which x86-64 clears
    /// with at most eight stores (no measurable cost); from 256 bytes on
    /// the clear is `rep stosq`, +10–22 ns a run (release, 256 B to 4 KiB).
    public static let defaultProvenStackClearLimit = 64

    /// x86-64: shifts by a register as BMI2's `shlx`/`shrx`/`sarx` (three
    /// operands, any count register) instead of through `cl`, which is BPF
    /// r4's register and must be saved around the shift. On by default when
    /// the CPU has BMI2.
    public var useBMI2: Bool

    /// Whether this host's CPU has BMI2 (CPUID, read once).
    public static let hostHasBMI2: Bool = bpf_x86_has_bmi2() != 0

    /// x86-64: the instruction-selection patterns over sequences of BPF
    /// instructions to use (all by default; the command line takes them
    /// from `BPFKIT_X86_PEEPHOLES`, `JITInstructionSelection.environment`).
    public var instructionSelection: JITInstructionSelection

    public init(memoryChecking: MemoryChecking = .checked, provenStackClearLimit: Int = JITOptions.defaultProvenStackClearLimit,
                useBMI2: Bool = JITOptions.hostHasBMI2, instructionSelection: JITInstructionSelection = .all) {
        self.memoryChecking = memoryChecking
        self.provenStackClearLimit = provenStackClearLimit
        self.useBMI2 = useBMI2
        self.instructionSelection = instructionSelection
    }
}

/// A program compiled to native code and placed in executable memory.
///
/// Entry ABI (every native backend): a C function
/// `(r1: UInt64, r2: UInt64, context: JITRunContext *) -> UInt64`
/// returning r0; the context may be nil when `image.usesRunContext` is false.
/// Tail calls enter a target through the same entry, with the caller's r1,
/// r2 and run context (so the entry is also the program's tail-call entry).
/// Safe to run from several threads at once: each run has its own context and
/// stack, and the image is written after it is placed only by the atomic
/// patches of its direct tail-call sites.
public final class NativeProgram: TailCallable, @unchecked Sendable {
    public typealias Entry = @convention(c) (UInt64, UInt64, UnsafeMutableRawPointer?) -> UInt64

    public let image: JITImage
    /// What the host routines consult while this program's code runs.
    public let info: JITProgramInfo
    /// Whether the code reads or writes the run context (guards, checks, calls).
    public let usesRunContext: Bool
    /// Whether the code calls helpers (proven calls too, which need no
    /// context): then a run may hold map values and tail-call targets, and is
    /// bracketed as one (`RunLifetime`). Code without calls can reach neither.
    public let callsHelpers: Bool
    public let instructionLimit: UInt64
    /// The longest input (r2 at entry) the proofs the code was compiled
    /// with assume (`ProgramProofs.inputLengthLimit`): every run refuses a
    /// longer one before entering the code, whose unchecked accesses and
    /// left-out runaway guard may rest on it.
    public let inputLengthLimit: Int?
    private let memory: any CodeMemory
    private let allocation: CodeAllocation
    /// Registrations with the program arrays it loads (kept alive with it).
    private let tailCalls: JITTailCallLinks?
    /// Its direct tail-call sites, registered with their program arrays.
    private let pokes: [(poke: JITTailCallPoke, slots: any TailCallSlots)]
    @usableFromInline let entry: Entry

    /// Places a compiled image's program. With `tailCalls`, each direct
    /// tail-call site of the image is registered with its program array,
    /// which patches it now and whenever the slot changes.
    public init(image: JITImage, memory: any CodeMemory, allocation: CodeAllocation, info: JITProgramInfo,
                usesRunContext: Bool, instructionLimit: UInt64, tailCalls: JITTailCallLinks? = nil,
                inputLengthLimit: Int? = nil) {
        self.inputLengthLimit = inputLengthLimit
        self.image = image
        self.info = info
        self.memory = memory
        self.allocation = allocation
        self.usesRunContext = usesRunContext
        callsHelpers = !info.helpers.helpers.isEmpty
        self.instructionLimit = instructionLimit
        self.tailCalls = tailCalls
        entry = unsafeBitCast(UnsafeRawPointer(bitPattern: allocation.address)!, to: Entry.self)
        var pokes: [(poke: JITTailCallPoke, slots: any TailCallSlots)] = []
        if let tailCalls, let patching = tailCalls.patching {
            for site in image.tailCallSites {
                guard let slots = tailCalls.attachments.first(where: { $0.slots.handle == site.arrayHandle })?.slots else { continue }
                let poke = JITTailCallPoke(engine: tailCalls.engine, site: site, memory: memory, allocation: allocation,
                                           patching: patching)
                slots.addPoke(poke, at: site.index)
                pokes.append((poke, slots))
            }
        }
        self.pokes = pokes
    }

    /// A program without tail calls, from its helpers and stack size.
    public convenience init(image: JITImage, memory: any CodeMemory, allocation: CodeAllocation, helpers: JITHelperTable,
                            stackSize: Int, usesRunContext: Bool, instructionLimit: UInt64, unsupported: [Int: String] = [:]) {
        self.init(image: image, memory: memory, allocation: allocation,
                  info: JITProgramInfo(helpers: helpers, stackSize: stackSize, unsupported: unsupported),
                  usesRunContext: usesRunContext, instructionLimit: instructionLimit)
    }

    deinit {
        // No array may patch the image once it is freed: unregister first.
        for (poke, slots) in pokes { slots.removePoke(poke) }
        memory.free(allocation)
    }

    /// Bytes of BPF stack the image reserves (all frames).
    public var stackSize: Int { info.stackSize }

    public var tailCallEngine: TailCallEngine { tailCalls?.engine ?? .jit(image.architecture) }
    /// The entry a tail call jumps to: the program's own entry.
    public var tailCallEntry: UInt64 { UInt64(allocation.address) }

    /// Where each direct tail-call site stands now.
    public var tailCallSiteStates: [JITTailCallSiteState] {
        pokes.map { JITTailCallSiteState(site: $0.poke.site, bypassActive: $0.poke.bypassActive,
                                         target: $0.poke.target, patchFailures: $0.poke.failures) }
    }

    /// Runs the program with the interpreter's input conventions.
    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        try run(r1: input.r1, r2: input.r2, regions: input.regions, dynamicRegion: input.dynamicRegion)
    }

    /// Runs with the given argument registers and memory regions.
    public func run(r1: UInt64, r2: UInt64, regions: MemoryRegions,
                    dynamicRegion: DynamicRegion? = nil) throws(ExecutionError) -> UInt64 {
        try ExecutionError.checkInputLength(r2: r2, limit: inputLengthLimit)
        // Code that never touches the context (no checks, calls or guard:
        // what proofs leave of many programs) cannot fail: no context to build.
        guard usesRunContext else {
            guard callsHelpers else { return entry(r1, r2, nil) }
            // In flight until it returns: what it looked up stays valid (`RunLifetime`).
            let slot = RunLifetime.enter()
            defer { RunLifetime.exit(slot) }
            return entry(r1, r2, nil)
        }
        // In flight until it returns: what it looked up and tail-calls stays valid (`RunLifetime`).
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        var context = JITRunContext(instructionLimit: instructionLimit, regions: regions)
        context.entryContext = r1
        // The run host borrows `regions` and `info` (see `RunHost`): nothing is retained per run.
        let (r0, error) = withUnsafePointer(to: regions) { regionsPointer -> (UInt64, ExecutionError?) in
            var host = RunHost(entry: info, regions: regionsPointer)
            let r0 = withUnsafeMutablePointer(to: &host) { hostPointer in
                context.host = UnsafeMutableRawPointer(hostPointer)
                return withUnsafeMutablePointer(to: &context) {
                    JITRunContext.setDynamicRegion(dynamicRegion, in: $0)
                    return entry(r1, r2, UnsafeMutableRawPointer($0))
                }
            }
            let hostError = host.finish()
            guard context.status != 0 else { return (r0, nil) }
            // The program that stopped: its prologue named itself, and an error
            // unwinding out of a tail-called program leaves its name in place.
            let failed = context.program.map(JITProgramInfo.at) ?? info
            return (r0, failed.restore(failure(status: context.status, context: context, program: failed, hostError: hostError)))
        }
        if let error { throw error }
        return r0
    }

    private func failure(status: UInt64, context: JITRunContext, program: JITProgramInfo, hostError: ExecutionError?) -> ExecutionError {
        let kind = UInt32(truncatingIfNeeded: status >> 24), pc = Int(status & 0xff_ffff)
        switch kind {
        case JITStatus.instructionLimit: return .instructionLimit(pc: pc, limit: instructionLimit)
        case JITStatus.callDepth: return .callDepthExceeded(pc: pc, limit: ExecutionLimits.maxCallFrames)
        case JITStatus.unsupported: return .unsupported(pc: pc, what: program.unsupported[pc] ?? "this instruction")
        case JITStatus.notAProgramArray: return .notAProgramArray(pc: pc, value: context.dynamicHelper)
        case JITStatus.tailCallContext: return .tailCallContextMismatch(pc: pc)
        default: return hostError ?? .unsupported(pc: pc, what: "an unknown JIT status \(status)")
        }
    }

    /// The entry to call directly, `entry(r1, r2, nil)`, when the code needs
    /// no run context and calls no helper (so needs no run bracket either):
    /// what `run` itself does for such code. nil for other code.
    public var contextFreeEntry: Entry? { usesRunContext || callsHelpers ? nil : entry }

    /// The fast call path for embedders (no input regions).
    public var function: JITFunction { JITFunction(program: self) }
}

/// A direct handle on a compiled program for embedders who call it often:
/// `let f = program.function; let r0 = try f(r1, r2)`.
///
/// A program that cannot fail (no memory access left to check, no calls,
/// no runaway guard: no backward jumps, or proofs that it ends in time) is
/// entered directly with no run context, here and by `run`: the call is one
/// indirect native call (after one compare: r2 against the input maximum
/// the proofs assume). Others get a context on the stack.
public struct JITFunction: @unchecked Sendable {
    @usableFromInline let entry: NativeProgram.Entry
    @usableFromInline let direct: Bool
    /// The longest r2 the code's proofs assume (`.max` for none): the direct
    /// call refuses more, as `run` does.
    @usableFromInline let directLimit: UInt64
    @usableFromInline let program: NativeProgram

    init(program: NativeProgram) {
        self.program = program
        entry = program.entry
        direct = !program.usesRunContext && !program.callsHelpers
        directLimit = program.inputLengthLimit.map { UInt64($0) } ?? .max
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ r1: UInt64 = 0, _ r2: UInt64 = 0) throws(ExecutionError) -> UInt64 {
        if direct {
            if r2 > directLimit { throw .inputTooLong(length: r2, maximum: Int(directLimit)) }
            return entry(r1, r2, nil)
        }
        return try program.run(r1: r1, r2: r2, regions: MemoryRegions())
    }
}
