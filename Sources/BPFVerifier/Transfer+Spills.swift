import BPFISA
import BPFRuntime

/// A register stored whole to an 8-byte slot of its frame's stack (the
/// kernel's `STACK_SPILL`): an 8-byte store through r10 at a constant,
/// 8-aligned offset of a number or of a pointer other than a stack pointer
/// (whose store is an escape), or an 8-byte store of an immediate. An
/// 8-byte load of the slot gives back what was stored, a number with its
/// link (`ScalarLink`: the register and the slot hold one number, so a
/// bound learned on either reaches the other). Every other write that may
/// touch the slot forgets it: a store or atomic overlapping it, a helper's
/// memory argument over it, and any write the verifier does not prove
/// inside its memory (a checked access may land anywhere in the run's
/// memory, the stack included), which forgets every slot of every frame.
struct Spill: Hashable, Sendable {
    /// The slot's offset from its frame's r10 (a multiple of 8, below 0).
    var offset: Int
    var value: Value
}

extension Frame {
    /// What the 8-byte slot at `offset` holds, if it holds a spilled register.
    func spilled(at offset: Int) -> Value? {
        spills.first { $0.offset == offset }?.value
    }

    /// Spills `value` to the slot at `offset` (replacing what it held).
    mutating func spill(_ value: Value, at offset: Int) {
        spills.removeAll { $0.offset == offset }
        let index = spills.firstIndex { $0.offset > offset } ?? spills.count
        spills.insert(Spill(offset: offset, value: value), at: index)
    }

    /// Forgets the slots that overlap `[low, high)`.
    mutating func forgetSpills(_ low: Int, _ high: Int) {
        guard !spills.isEmpty else { return }
        spills.removeAll { $0.offset < high && $0.offset + 8 > low }
    }
}

extension State {
    /// Forgets every spilled slot of every frame.
    mutating func forgetAllSpills() {
        for f in frames.indices where !frames[f].spills.isEmpty { frames[f].spills = [] }
    }
}

extension Analysis {
    /// A write of `size` bytes (nil: unknown) at `base + offset`: forgets the
    /// slots it may touch (see `Spill`). `proven`: the write is proven
    /// inside the memory `base` points to.
    func forgetSpills(_ state: inout State, base: Value, offset: Int, size: Int?, proven: Bool) {
        guard proven, let size else { state.forgetAllSpills(); return }
        guard case .stack(let frame, let off, let v) = base else { return }
        guard frame < state.depth else { return }
        state.frames[frame].forgetSpills(off + offset + v.low, off + offset + v.high + size)
    }

    /// After a store or atomic (`instruction`, whose base was `base` and
    /// stored value `value` before it): forgets what it overwrote, and
    /// records a spill (see `Spill`).
    func spillAfterStore(_ state: inout State, _ instruction: Instruction, base: Value, value: Value?) {
        let dst: Register, offset: Int16, bytes: Int, atomic: Bool
        switch instruction {
        case .store(let size, let d, let o, _), .storeImmediate(let size, let d, let o, _):
            dst = d; offset = o; bytes = size.bytes; atomic = false
        case .atomic(let width, _, let d, let o, _):
            dst = d; offset = o; bytes = width == .w64 ? 8 : 4; atomic = true
        default:
            return
        }
        let proven = accessProblem(state, base: base, offset: Int(offset), size: bytes, write: true, atomic: atomic) == nil
        forgetSpills(&state, base: base, offset: Int(offset), size: bytes, proven: proven)
        guard proven, !atomic, bytes == 8, dst == .r10, case .stack(let frame, let off, .zero) = base, frame == state.depth - 1 else { return }
        let slot = off + Int(offset)
        guard slot % 8 == 0, slot >= -ExecutionLimits.stackSizePerFrame, slot + 8 <= 0 else { return }
        var stored: Value
        switch instruction {
        case .storeImmediate(_, _, _, let imm):
            stored = .scalar(Scalar(constant: UInt64(bitPattern: Int64(imm))))
        case .store(_, _, _, let src):
            guard let value, value.isInitialized, !value.isStack else { return }
            stored = value
            // The register and the slot hold one number: link them (the
            // kernel gives the register an id before spilling it).
            if case .scalar(var s) = value, !s.isConstant {
                if s.link == nil {
                    s.link = ScalarLink(id: state.freshID(), delta: 0)
                    state[src.index] = .scalar(s)
                }
                stored = .scalar(s)
            }
        default:
            return
        }
        state.frames[frame].spill(stored, at: slot)
    }

    /// What an 8-byte load at `base + offset` fills from a spilled slot, if it reads one whole.
    func filled(_ state: State, base: Value, offset: Int16) -> Value? {
        guard case .stack(let frame, let off, .zero) = base, frame < state.depth else { return nil }
        return state.frames[frame].spilled(at: off + Int(offset))
    }

    /// What a helper's memory arguments may write (see `Spill`): the bytes of
    /// a described argument it writes, everything when its memory use is
    /// not described or an argument is not proven in bounds.
    func forgetSpillsWrittenByHelper(_ next: inout State, _ state: State, memory: [MemoryArgument]?) {
        guard let memory else { next.forgetAllSpills(); return }
        for argument in memory where argument.access == .write {
            guard (1...5).contains(argument.register) else { next.forgetAllSpills(); return }
            let base = state[argument.register]
            guard let size = memorySize(argument.size, state) else { next.forgetAllSpills(); return }
            if size == 0 { continue }
            let proven = accessProblem(state, base: base, offset: 0, size: size, write: true, atomic: false) == nil
            forgetSpills(&next, base: base, offset: 0, size: size, proven: proven)
        }
    }
}
