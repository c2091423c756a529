/// What happens when emulated code reaches a trampoline slot.
enum TrampolineTarget: Sendable {
    /// Slot 0: the return address of the entry call. Reaching it ends the run.
    case exit
    case helper(Int32)
    case runtimeCall(RuntimeCall)
}

/// The machine's trampoline area: 64 KiB of slots, 16 bytes apart, each
/// filled with the architecture's trap instruction.
///
/// A helper's native address is its slot. Emulated code calls it like any
/// function (`bl`, `blx`, `jalr`); the code hook sees the slot's first
/// instruction before it executes, does the call in Swift, and resumes at
/// the link register, so the trap itself never executes. It
/// is there for everything else: a jump into the area that is not a call,
/// or into a slot nobody assigned, stops on the trap instead of running on.
///
/// Slots are handed out on first request (helper numbers are sparse Int32s)
/// and never reused, so an address a backend baked into an image stays valid
/// for the machine's life. One table per machine, under its lock.
struct Trampolines: Sendable {
    static let slotSize = 16
    static let areaSize = 64 << 10
    static let slotCount = areaSize / slotSize

    private var targets: [TrampolineTarget] = [.exit]
    private var helperSlots: [Int32: Int] = [:]
    private var runtimeSlots: [String: Int] = [:]

    /// The slot for helper `id`, assigning one on first use; nil when full.
    mutating func slot(forHelper id: Int32) -> Int? {
        if let slot = helperSlots[id] { return slot }
        guard targets.count < Self.slotCount else { return nil }
        targets.append(.helper(id))
        helperSlots[id] = targets.count - 1
        return targets.count - 1
    }

    /// The slot for a runtime call, by name; the first registration's body is kept.
    mutating func slot(for call: RuntimeCall) -> Int? {
        if let slot = runtimeSlots[call.name] { return slot }
        guard targets.count < Self.slotCount else { return nil }
        targets.append(.runtimeCall(call))
        runtimeSlots[call.name] = targets.count - 1
        return targets.count - 1
    }

    func target(atSlot slot: Int) -> TrampolineTarget? {
        slot >= 0 && slot < targets.count ? targets[slot] : nil
    }
}
