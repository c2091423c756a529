import BPFISA
import BPFRuntime

/// A program decoded for the interpreter. Immutable and `Sendable`: every
/// run gets its own registers, frames and stack, so any number of threads
/// may run the same prepared program at once. A class, so that a run's
/// machine borrows it (`unowned(unsafe)`, valid for the run) instead of
/// copying and retaining each of its fields per run.
final class InterpretedProgram: TailCallable, @unchecked Sendable {
    /// The decoded instructions, in memory the program owns (never written
    /// after `init`; freed with it), so a run reads them without retaining
    /// anything.
    let code: UnsafeMutableBufferPointer<DecodedInstruction>
    /// Helpers called by number, indexed by the `imm` of `callHelper`.
    let helpers: [Helper]
    /// All helpers, for calls through a register (`callx`), whose number is known only at run time.
    let registry: HelperRegistry
    /// Why each `unsupported` instruction cannot run, indexed by its `imm`.
    let unsupported: [String]
    let instructionLimit: UInt64
    /// The program arrays the program loads: the only values r2 may hold at a
    /// tail call. Their attachments keep them alive and check their entries.
    let tailCallArrays: [TailCallAttachment]
    /// What the stack starts as (zeros but in tests).
    let stackFill: StackFill
    /// Whether memory has the other byte order than the host's.
    let swapsBytes: Bool
    /// Whether a run is bracketed as one (`RunLifetime`): only code that
    /// calls helpers or tail-calls can hold map values or tail-call targets;
    /// other code reaches neither, as for the JITs.
    let bracketsRun: Bool
    /// Whether the program makes local calls (and so uses the saved-frame
    /// words and the frames below the first).
    let callsLocally: Bool
    /// Bytes at the top of the stack a run clears: the whole stack, or, when
    /// the verifier proved every stack access of a program without local
    /// calls inside the top `stackDepth` bytes of its one frame, those bytes
    /// (no access reaches the others, so what they hold cannot be seen).
    let stackClearBytes: Int
    /// Frames a run lays out: the interpreter's eight, or for a program
    /// without local calls whose stack accesses are all proven inside its
    /// frame (`stackClearBytes` then is the proven depth), that one frame:
    /// the same bytes are reachable, and an access outside it (which the
    /// proof says never happens) fails as out of bounds instead of reaching
    /// memory nobody cleared. The run's block then fits on the thread's
    /// stack without a heap allocation.
    let frameCount: Int
    /// Whether every instruction only computes on registers (r0–r9), jumps
    /// or exits: runs then take `runRegistersOnly`, which builds no machine.
    let registersOnly: Bool

    /// `proofs`: the verifier's facts about exactly this program, if any
    /// (only the proven stack depth is used, see `stackClearBytes`).
    init(code: [DecodedInstruction], helpers: [Helper], registry: HelperRegistry, unsupported: [String],
         instructionLimit: UInt64, tailCallArrays: [TailCallAttachment], stackFill: StackFill, swapsBytes: Bool,
         proofs: ProgramProofs?) {
        inputLengthLimit = proofs?.inputLengthLimit
        self.code = .allocate(capacity: max(code.count, 1))
        _ = self.code.initialize(from: code)
        self.helpers = helpers
        self.registry = registry
        self.unsupported = unsupported
        self.instructionLimit = instructionLimit
        self.tailCallArrays = tailCallArrays
        self.stackFill = stackFill
        self.swapsBytes = swapsBytes
        bracketsRun = code.contains { [.callHelper, .callRegister, .tailCall].contains($0.op) }
        callsLocally = code.contains { $0.op == .callLocal }
        registersOnly = Self.runsOnRegistersOnly(code)
        // With a proven stack depth (every stack access, helpers' memory
        // arguments included, inside the top `depth` bytes of its frame) and
        // a single frame, only those bytes can ever be read: lay out one
        // frame and clear just them.
        if !callsLocally, let depth = proofs?.stackDepth, (0...ExecutionLimits.stackSizePerFrame).contains(depth) {
            stackClearBytes = (depth + 15) & ~15
            frameCount = 1
        } else {
            stackClearBytes = RunLayout().stackBytes
            frameCount = ExecutionLimits.maxCallFrames
        }
    }

    deinit { code.deallocate() }

    /// The longest input (r2 at entry) the proofs assume; runs refuse longer ones.
    let inputLengthLimit: Int?

    var tailCallEngine: TailCallEngine { .interpreter }
    var tailCallEntry: UInt64 { 0 }

    func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        // The proofs (its stack clearing) assume no longer input; the
        // checked accesses would catch one too, but with a less clear error.
        try ExecutionError.checkInputLength(r2: input.r2, limit: inputLengthLimit)
        if registersOnly { return try runRegistersOnly(r1: input.r1, r2: input.r2) }
        return try runGenerally(input)
    }

    /// A run through the machine, whatever the program (`run(_:)` after the
    /// input check; tests compare it with `runRegistersOnly`).
    func runGenerally(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        guard bracketsRun else {
            var state = RunState(budget: instructionLimit, limit: instructionLimit, context: input.r1, dynamicRegion: input.dynamicRegion)
            return try run(r1: input.r1, r2: input.r2, regions: input.regions, state: &state)
        }
        // In flight until it returns: what it looked up and tail-calls stays valid (`RunLifetime`).
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        var state = RunState(budget: instructionLimit, limit: instructionLimit, context: input.r1, dynamicRegion: input.dynamicRegion)
        return try run(r1: input.r1, r2: input.r2, regions: input.regions, state: &state)
    }

    /// Runs this program and, in its place, whatever it tail-calls from its
    /// entry function (the outermost frame is replaced, so the chain is a
    /// loop here, not a recursion).
    func run(r1: UInt64, r2: UInt64, regions: MemoryRegions, state: inout RunState) throws(ExecutionError) -> UInt64 {
        var outcome = try runOnce(r1: r1, r2: r2, regions: regions, state: &state)
        while case .tailCall(let target, let a1, let a2) = outcome {
            outcome = try target.runOnce(r1: a1, r2: a2, regions: regions, state: &state)
        }
        guard case .returned(let r0) = outcome else { preconditionFailure("unreachable") }
        return r0
    }

    /// One program from its first instruction, with fresh registers and stack.
    func runOnce(r1: UInt64, r2: UInt64, regions: MemoryRegions, state: inout RunState) throws(ExecutionError) -> Outcome {
        let layout = RunLayout(maxFrames: frameCount)
        // Everything the run needs from the program, read before the
        // closures so that they capture no strong reference to it (the
        // program is alive for the run: its caller holds it).
        let program = Unmanaged.passUnretained(self)
        let callsLocally = callsLocally, stackFill = stackFill, stackClearBytes = stackClearBytes
        let swapsBytes = swapsBytes, entry = code.baseAddress.unsafelyUnwrapped
        // Registers, frames and stack live in one block per run, on the
        // thread's stack when it fits: no heap traffic and no sharing.
        // The machine borrows the program and the run's regions (valid for
        // the whole run): nothing is retained per run.
        return try withUnsafePointer(to: regions) { (regions) throws(ExecutionError) -> Outcome in
        try withUnsafeTemporaryAllocation(byteCount: layout.byteCount, alignment: 16) {
            (block) throws(ExecutionError) -> Outcome in
            let base = block.baseAddress.unsafelyUnwrapped
            let (words, stack) = Self.start(base, layout: layout, callsLocally: callsLocally, fill: stackFill,
                                            clearBytes: stackClearBytes)
            let stackLow = UInt64(UInt(bitPattern: stack))
            let machine = Machine(
                programReference: program, layout: layout,
                registers: words, frames: words + RunLayout.registerSlots,
                stackTop: stackLow + UInt64(layout.stackBytes),
                memory: HostMemory(stackLow: stackLow, stackBytes: layout.stackBytes, regions: regions,
                                   dynamicRegion: state.dynamicRegion, swapsBytes: swapsBytes))
            machine.registers[1] = r1
            machine.registers[2] = r2
            machine.registers[10] = machine.stackTop
            return try machine.execute(entry, state: &state)
        }
        }
    }

    /// Starts a run's block at `base`: the registers zeroed, and the
    /// saved-frame words, which only matter to local calls; the stack as
    /// `clearStack` starts it. Returns the registers and the stack's lowest byte.
    @inline(__always)
    static func start(_ base: UnsafeMutableRawPointer, layout: RunLayout, callsLocally: Bool, fill: StackFill,
                      clearBytes: Int) -> (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt8>) {
        let words = base.bindMemory(to: UInt64.self, capacity: layout.wordCount)
        words.initialize(repeating: 0, count: RunLayout.registerSlots)
        if callsLocally {
            (words + RunLayout.registerSlots).initialize(repeating: 0, count: layout.wordCount - RunLayout.registerSlots)
        }
        let stack = (base + layout.stackOffset).bindMemory(to: UInt8.self, capacity: layout.stackBytes)
        clearStack(stack, layout: layout, fill: fill, clearBytes: clearBytes)
        return (words, stack)
    }

    /// Starts a run's stack: zeroed so that a program never reads what a
    /// previous run (or the host) left there, all of it or the part the
    /// proofs say any access reaches (`clearBytes`); or, in tests, garbage.
    @inline(__always)
    static func clearStack(_ stack: UnsafeMutablePointer<UInt8>, layout: RunLayout, fill: StackFill, clearBytes: Int) {
        if case .garbage(let seed) = fill {
            Self.fill(stack, count: layout.stackBytes, seed: seed)
        } else {
            let clear = min(clearBytes, layout.stackBytes)
            if clear > 0 { (stack + (layout.stackBytes - clear)).initialize(repeating: 0, count: clear) }
        }
    }

    /// Fills `count` bytes with SplitMix64 output from `seed`.
    private static func fill(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, seed: UInt64) {
        var state = seed
        for i in stride(from: 0, to: count, by: 8) {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for j in 0..<min(8, count - i) { bytes[i + j] = UInt8(truncatingIfNeeded: z >> UInt64(8 * j)) }
        }
    }

    /// How one program's run ended.
    enum Outcome {
        /// The entry function exited with r0.
        case returned(UInt64)
        /// The entry function tail-called `target` with these r1 and r2.
        case tailCall(InterpretedProgram, UInt64, UInt64)
    }
}

/// What a whole run shares across the programs it tail-calls: the
/// instruction budget and the tail-call count (the kernel keeps one count
/// per run, reached from every frame, since its "tail call hierarchy" fix).
struct RunState {
    var budget: UInt64
    /// The budget the run started with, for the error message.
    let limit: UInt64
    var tailCalls = 0
    /// The run's context pointer: r1 as the host entered the run. Every
    /// tail call must pass it on unchanged (`tailCallContextMismatch`).
    var context: UInt64 = 0
    /// The run's inline-checked region whose bounds live in memory (the XDP
    /// packet); every program a tail call enters checks against it too.
    var dynamicRegion: DynamicRegion? = nil
}

/// Where one run keeps its state, in a single block:
///
///     offset 0                      registers r0–r10 (16 slots of 8 bytes)
///     offset 128                    saved frames: per local call, the return
///                                   slot and the caller's r6–r9 (5 words)
///     (guardBytes of unused room, when more than one frame)
///     offset stackOffset            stack, all frames, 16-byte aligned:
///
///     stackLow                                                      stackTop
///     +--------------+--------------+-- ... --+--------------+--------------+
///     | frame 7      | frame 6      |         | frame 1      | frame 0      |
///     +--------------+--------------+-- ... --+--------------+--------------+
///                                             ^ r10 at depth 1 ^ r10 of the entry function
///
/// Each frame is `ExecutionLimits.stackSizePerFrame` bytes; a local call at
/// depth d runs with r10 = stackTop - d * frame size. (guardBytes of unused
/// room follow the stack too, when more than one frame.)
///
/// A block of more than one frame is too big for the thread's stack, so it
/// comes from the heap, where the next or previous block may be memory of the
/// run (an input, a map's storage). Such a block keeps `guardBytes` of unused
/// room before and after the stack: an access whose constant offset (at most
/// 32 KiB either way) takes a pointer out of the stack, or out of another
/// region, then lands in no region and fails, as it does on the JITs, whose
/// stack lies on the host's, instead of in whatever the heap put next to it.
/// The room is never touched, so it costs address space, not memory.
struct RunLayout {
    static let registerSlots = 16
    static let frameWords = 5
    /// Room on each side of a heap block's stack: more than any 16-bit
    /// offset plus the widest access.
    static let guardBytes = 32 * 1024 + 64
    let frameBytes: Int
    /// Eight (`ExecutionLimits.maxCallFrames`), or one for a program
    /// proven to stay in its one frame (`InterpretedProgram.frameCount`).
    let maxFrames: Int
    // Stored, not computed, so that a run reads them rather than redoing
    // the arithmetic (and its overflow checks).
    let wordCount: Int, stackOffset: Int, stackBytes: Int, byteCount: Int

    init(maxFrames: Int = ExecutionLimits.maxCallFrames) {
        frameBytes = ExecutionLimits.stackSizePerFrame
        self.maxFrames = maxFrames
        wordCount = Self.registerSlots + maxFrames * Self.frameWords
        stackBytes = frameBytes * maxFrames
        let guarded = maxFrames > 1
        stackOffset = ((wordCount * 8 + 15) & ~15) + (guarded ? Self.guardBytes : 0)
        byteCount = stackOffset + stackBytes + (guarded ? Self.guardBytes : 0)
    }
}

/// The state of one run, handed to the dispatch loop.
struct Machine {
    /// The program being run, borrowed for the run (it is alive while it
    /// runs): not retained per run; only the slow paths (calls, errors) use it.
    let programReference: Unmanaged<InterpretedProgram>
    var program: InterpretedProgram { programReference.takeUnretainedValue() }
    let layout: RunLayout
    var registers: UnsafeMutablePointer<UInt64>
    var frames: UnsafeMutablePointer<UInt64>
    var stackTop: UInt64
    var memory: HostMemory

    /// The run's block moved to `base` (laid out as `layout`): for a run
    /// site, whose machine outlives each run's block. Runs from the same
    /// caller find their block where the previous one was: then nothing is
    /// written, so the dispatch loop reads the machine from memory stored
    /// long before (a store just before would stall its first reads).
    @inline(__always)
    mutating func place(at base: UnsafeMutableRawPointer) {
        guard UnsafeMutableRawPointer(registers) != base else { return }
        registers = base.assumingMemoryBound(to: UInt64.self)
        frames = registers + RunLayout.registerSlots
        let stackLow = UInt64(UInt(bitPattern: base + layout.stackOffset))
        stackTop = stackLow + UInt64(layout.stackBytes)
        memory.moveStack(to: stackLow)
    }

    /// The stack as a region, for helpers (which may be handed pointers into it).
    var stackRegion: MemoryRegion {
        MemoryRegion(start: stackTop - UInt64(layout.stackBytes), count: layout.stackBytes, writable: true, kind: .stack)
    }

    /// Calls a helper with r1–r5 and returns its result for r0.
    ///
    /// r1–r5 are left as they were, as the kernel's interpreter leaves them
    /// (`BPF_R0 = helper(BPF_R1, ..., BPF_R5)`); a verified program treats
    /// them as clobbered anyway. `access` is built on the first call of a run
    /// and reused, so helper-heavy programs do not rebuild the region list.
    @inline(never)
    func callHelper(_ helper: Helper, access: inout MemoryAccess?, pc: Int) throws(ExecutionError) -> UInt64 {
        let memoryAccess: MemoryAccess
        if let access {
            memoryAccess = access
        } else {
            var regions = memory.regions.pointee
            regions.regions.append(stackRegion)
            memoryAccess = MemoryAccess(regions: regions, byteOrder: memory.swapsBytes ? ByteOrder.host.opposite : ByteOrder.host)
            access = memoryAccess
        }
        let r = registers
        let call = HelperCall(helperID: helper.id, arguments: (r[1], r[2], r[3], r[4], r[5]), memory: memoryAccess)
        do {
            return try helper.body(call)
        } catch {
            throw .helperFailed(pc: pc, id: helper.id, message: error.message)
        }
    }

    /// `bpf_tail_call(r1, r2 = program array, r3 = index)`: the program to
    /// continue with (r1 must be the run's context pointer, else the run
    /// stops), or nil when the call falls through (index out of range,
    /// the run's 33 tail calls used up, or an empty slot), as the kernel's
    /// interpreter checks them. The count grows only when a program is found.
    @inline(never)
    func tailCallTarget(pc: Int, state: inout RunState) throws(ExecutionError) -> InterpretedProgram? {
        let r = registers
        guard r[1] == state.context else { throw .tailCallContextMismatch(pc: pc) }
        guard let array = program.tailCallArrays.first(where: { $0.slots.handle == r[2] })?.slots else {
            throw .notAProgramArray(pc: pc, value: r[2])
        }
        let index = UInt32(truncatingIfNeeded: r[3])
        guard Int(index) < array.maxEntries, state.tailCalls < TailCalls.maxCount,
              let target = array.target(at: Int(index), for: .interpreter) as? InterpretedProgram else { return nil }
        state.tailCalls += 1
        return target
    }

    /// Resolves `callx`: the register holds a helper number. A value that is
    /// no 32-bit number at all is reported as such rather than truncated,
    /// since truncation could name a helper that does exist.
    @inline(never)
    func helper(numbered value: UInt64, pc: Int) throws(ExecutionError) -> Helper {
        guard let id = Int32(exactly: Int64(bitPattern: value)) else {
            throw .unsupported(pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
        }
        guard let helper = program.registry[id] else { throw .unknownHelper(pc: pc, id: id) }
        return helper
    }
}
