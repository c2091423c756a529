import CUnicorn

/// The state of the one C code hook (`bpfkit_on_instruction` in the shim),
/// which runs before every emulated instruction: the run's instruction
/// count and budget, the address of the instruction about to execute (how
/// faults find their instruction: Unicorn's PC is exact only in code hooks),
/// and where trampoline slots are handed to Swift.
///
/// The C side reads and writes this memory during emulation, so it lives at
/// a fixed address for the engine's life; this class owns it.
final class CodeHook {
    private let state: UnsafeMutablePointer<bpfkit_instruction_counter>

    /// `handler` will run for every instruction in `trampolines`.
    init(trampolines: Range<UInt64>, handler: bpfkit_trampoline_handler) {
        var initial = bpfkit_instruction_counter()
        initial.trampoline_begin = trampolines.lowerBound
        initial.trampoline_size = UInt64(trampolines.count)
        initial.trampoline_handler = handler
        state = .allocate(capacity: 1)
        state.initialize(to: initial)
    }

    deinit { state.deallocate() }

    /// Installs the hook over every address; `context` is what the trampoline handler receives.
    func install(on unicorn: UnicornHandle, context: UnsafeMutableRawPointer) throws(EmulatorError) {
        state.pointee.trampoline_context = context
        try unicorn.hookInstructions(state)
    }

    /// Starts a run: nothing executed yet, `limit` to go.
    func reset(limit: UInt64, entry: UInt64) {
        state.pointee.executed = 0
        state.pointee.limit = limit
        state.pointee.last_address = entry
        state.pointee.previous_address = entry
        state.pointee.limit_reached = false
    }

    /// Forgets that the last instruction began, so that restarting the run
    /// there counts it once (a fault aborted it before it took effect).
    func restartLastInstruction() {
        state.pointee.executed -= 1
        state.pointee.last_address = state.pointee.previous_address
    }

    /// Instructions executed outside the trampolines this run.
    var executed: UInt64 { state.pointee.executed }
    var limit: UInt64 { state.pointee.limit }
    /// Whether the budget stopped the run.
    var limitReached: Bool { state.pointee.limit_reached }
    /// The last instruction that began executing (outside the trampolines).
    var lastAddress: UInt64 { state.pointee.last_address }
    /// The one before it.
    var previousAddress: UInt64 { state.pointee.previous_address }
}
