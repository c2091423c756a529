import BPFRuntime

/// Where one thread runs an interpreted program over and over on the same
/// run input (the zero-copy entry of a packet pipeline: the host's buffer,
/// run in place). The run's machine — the memory checks' bounds built from
/// the input's regions, the program borrowed, the block's layout — is made
/// once, here, and kept; a run lays out its block (registers, saved frames,
/// stack) on the thread's stack as every interpreter run does, starts it,
/// points the kept machine at it (four words) and enters the dispatch loop,
/// which reads the machine where it was built long before. Nothing is
/// allocated, copied or retained per run. A program that touches only its
/// registers needs none of this: its runs go to `runRegistersOnly`.
///
/// A run is what `PreparedProgram.run(_:)` does with the same input: an
/// input longer than the maximum the program's proofs assume refused;
/// registers zeroed but r1 and r2 from the input and r10 the top of the
/// entry frame; the stack zeroed where the proofs say any access reaches
/// it (all of it without such a proof); a fresh instruction budget and
/// tail-call count; every memory access checked; a program that calls
/// helpers or tail-calls bracketed as one run (`RunLifetime`).
///
/// Not for sharing: one thread at a time, as the buffer it runs on. The
/// program may have run sites on several threads at once.
public final class InterpreterRunSite {
    /// Keeps the program alive; the machine borrows it.
    private let program: InterpretedProgram
    private let machine: UnsafeMutablePointer<Machine>
    /// The input's regions, in memory the site owns (the machine points at them).
    private let regions: UnsafeMutablePointer<MemoryRegions>
    private let entry: UnsafePointer<DecodedInstruction>
    private let r1: UInt64, r2: UInt64
    private let dynamicRegion: DynamicRegion?
    private let limit: UInt64
    /// The longest input the program's proofs assume (nil: none); checked
    /// against r2 on every run, as `InterpretedProgram.run` does.
    private let inputLengthLimit: Int?
    private let bracketsRun: Bool
    private let registersOnly: Bool
    private let callsLocally: Bool
    private let layout: RunLayout
    private let stackFill: StackFill
    /// Stack bytes (from the top) to clear per run.
    private let stackClearBytes: Int

    /// A site for `prepared` (a program this interpreter prepared; nil for
    /// another engine's) running on `input`. The memory `input` describes
    /// must stay valid, and its regions unchanged, while the site runs.
    public init?(_ prepared: any PreparedProgram, input: RunInput) {
        guard let program = prepared as? InterpretedProgram else { return nil }
        self.program = program
        let layout = RunLayout(maxFrames: program.frameCount)
        self.layout = layout
        let regions = UnsafeMutablePointer<MemoryRegions>.allocate(capacity: 1)
        regions.initialize(to: input.regions)
        self.regions = regions
        // Placed at a run's block before every run (`Machine.place(at:)`).
        let machine = UnsafeMutablePointer<Machine>.allocate(capacity: 1)
        self.machine = machine
        machine.initialize(to: Machine(
            programReference: Unmanaged.passUnretained(program), layout: layout,
            registers: UnsafeMutablePointer(bitPattern: 16).unsafelyUnwrapped,
            frames: UnsafeMutablePointer(bitPattern: 16).unsafelyUnwrapped, stackTop: 0,
            memory: HostMemory(stackLow: 0, stackBytes: layout.stackBytes, regions: regions,
                               dynamicRegion: input.dynamicRegion, swapsBytes: program.swapsBytes)))
        entry = UnsafePointer(program.code.baseAddress.unsafelyUnwrapped)
        r1 = input.r1
        r2 = input.r2
        dynamicRegion = input.dynamicRegion
        limit = program.instructionLimit
        inputLengthLimit = program.inputLengthLimit
        bracketsRun = program.bracketsRun
        registersOnly = program.registersOnly
        callsLocally = program.callsLocally
        stackFill = program.stackFill
        stackClearBytes = program.stackClearBytes
    }

    deinit {
        machine.deinitialize(count: 1)
        machine.deallocate()
        regions.deinitialize(count: 1)
        regions.deallocate()
    }

    /// Runs the program once from its first instruction and returns r0.
    public func run() throws(ExecutionError) -> UInt64 {
        // The proofs may rest on r2 being at most the program's maximum,
        // whoever made the input: checked here, not left to the caller.
        try ExecutionError.checkInputLength(r2: r2, limit: inputLengthLimit)
        // Nothing but registers: no block, no machine (`runRegistersOnly`).
        if registersOnly { return try program.runRegistersOnly(r1: r1, r2: r2) }
        var state = RunState(budget: limit, limit: limit, context: r1, dynamicRegion: dynamicRegion)
        guard bracketsRun else { return try run(state: &state) }
        // In flight until it returns: what it looked up and tail-calls stays valid.
        let slot = RunLifetime.enter()
        defer { RunLifetime.exit(slot) }
        return try run(state: &state)
    }

    @inline(__always)
    private func run(state: inout RunState) throws(ExecutionError) -> UInt64 {
        let machine = machine, layout = layout, entry = entry, r1 = r1, r2 = r2
        let callsLocally = callsLocally, stackFill = stackFill, stackClearBytes = stackClearBytes
        // The block on the thread's stack, as for every run (it stays in
        // the cache lines the dispatch loop's own frame uses).
        let outcome = try withUnsafeTemporaryAllocation(byteCount: layout.byteCount, alignment: 16) {
            (block) throws(ExecutionError) -> InterpretedProgram.Outcome in
            let base = block.baseAddress.unsafelyUnwrapped
            let (words, _) = InterpretedProgram.start(base, layout: layout, callsLocally: callsLocally, fill: stackFill,
                                                      clearBytes: stackClearBytes)
            machine.pointee.place(at: base)
            words[1] = r1
            words[2] = r2
            words[10] = machine.pointee.stackTop
            return try machine.pointee.execute(entry, state: &state)
        }
        if case .returned(let r0) = outcome { return r0 }
        // The programs it tail-called from its entry function, each in its
        // own fresh block, as on every run.
        var next = outcome
        while case .tailCall(let target, let a1, let a2) = next {
            next = try target.runOnce(r1: a1, r2: a2, regions: regions.pointee, state: &state)
        }
        guard case .returned(let r0) = next else { preconditionFailure("unreachable") }
        return r0
    }
}
