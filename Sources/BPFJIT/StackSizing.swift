import BPFISA
import BPFRuntime

/// How much BPF stack an image reserves: the rule both backends follow.
///
/// All eight frames when a local call can use them, or when a pointer into
/// the stack escapes (into a register, a helper, a computed access) and may
/// be used beyond its frame — by an access that is neither inside the frame
/// by its form nor proven safe (`JITProofs`), or by a helper: the
/// interpreter's stack is always all frames, and such a program could tell.
/// Otherwise one frame: all of it when a pointer escapes (every access
/// through one is proven to stay in [-512, 0) of it, and there is no other
/// frame), else, when r10 only ever addresses its own frame directly, just
/// the bytes those accesses reach.
///
/// A verified program (proofs apply) that hands stack pointers to helpers
/// gets one frame too: a helper's accesses are checked against the run's
/// stack, so one given a pointer beyond the program's own frame fails there
/// with an out-of-bounds error where the interpreter, whose stack is all
/// frames, would let it read the zeroed frames below. The kernel's verifier
/// refuses such programs (a helper's memory argument must lie inside the
/// frame), and the 4 KiB of all frames would otherwise be cleared on every
/// run of every program that passes a map key on its stack.
public enum JITStackSizing {
    /// Bytes of one BPF frame (`inFrame` spells it out: it is inlined into the backends' hot paths).
    public static let frameBytes = ExecutionLimits.stackSizePerFrame

    /// Whether `[r10 + offset]` of `size` bytes lies inside the current frame
    /// (and, for an atomic, is aligned: frames are 16-byte aligned).
    @inlinable
    public static func inFrame(base: Register, offset: Int16, size: Int, atomic: Bool = false) -> Bool {
        base == .r10 && Int(offset) >= -512 && Int(offset) + size <= 0 && (!atomic || Int(offset) % size == 0)
    }

    /// Whether a load, store or atomic needs a run-time check in checked mode
    /// without proofs: everything but a direct `[r10 + offset]` inside the frame.
    @inlinable
    public static func needsCheck(_ instruction: Instruction) -> Bool {
        switch instruction {
        case .load(let size, _, let base, let offset), .loadSignExtend(let size, _, let base, let offset),
             .store(let size, let base, let offset, _), .storeImmediate(let size, let base, let offset, _):
            !inFrame(base: base, offset: offset, size: size.bytes)
        case .atomic(let width, _, let base, let offset, _):
            !inFrame(base: base, offset: offset, size: width == .w64 ? 8 : 4, atomic: true)
        default:
            false
        }
    }

    /// How far below r10 a direct access `[r10 + offset]` inside the frame reaches (0: none).
    public static func depth(of instruction: Instruction) -> Int {
        switch instruction {
        case .load(let size, _, .r10, let offset), .loadSignExtend(let size, _, .r10, let offset),
             .store(let size, .r10, let offset, _), .storeImmediate(let size, .r10, let offset, _):
            inFrame(base: .r10, offset: offset, size: size.bytes) ? -Int(offset) : 0
        case .atomic(let width, _, .r10, let offset, _):
            inFrame(base: .r10, offset: offset, size: width == .w64 ? 8 : 4, atomic: true) ? -Int(offset) : 0
        default:
            0
        }
    }

    /// The bytes to reserve. `escapes`: a stack pointer leaves r10 (see the
    /// type's rule for what counts); `reachable`: it may also be used beyond
    /// its frame; `depth`: the deepest byte direct accesses reach. A partial
    /// frame is at least 16 bytes (so that r10 is a real frame pointer
    /// whenever the program names it), a multiple of 16 up to 64 bytes and
    /// of `granule` above (the backend's stack clear).
    public static func stackSize(usesFramePointer: Bool, localCalls: Bool, escapes: Bool, reachable: Bool, depth: Int,
                                 granule: Int) -> Int {
        if localCalls || (escapes && reachable) { return ExecutionLimits.maxCallFrames * frameBytes }
        guard usesFramePointer else { return 0 }
        if escapes { return frameBytes }
        if depth <= 64 { return max(16, (depth + 15) & ~15) }
        return min(frameBytes, (depth + granule - 1) / granule * granule)
    }
}

/// What the stack rule needs to know about a program, gathered by the
/// backend's own pass over its instructions (`note`), so that both backends
/// size their stacks from the same facts.
public struct JITStackUse {
    /// Some instruction names r10.
    public private(set) var usesFramePointer = false
    public private(set) var localCalls = false
    /// Calls of helpers (by number, through a register, kfuncs).
    public private(set) var helperCalls = false
    /// A stack pointer leaves r10: into a register, into memory, or through
    /// an access outside its frame.
    public private(set) var escapes = false
    /// Some access keeps its run-time check (neither inside the frame by its
    /// form nor proven safe).
    public private(set) var unproven = false
    /// The deepest byte below r10 a direct `[r10 + offset]` access reaches.
    public private(set) var depth = 0

    public init() {}

    /// Takes in the instruction at `pc`; `names` is its `namedRegisters`.
    public mutating func note(_ instruction: Instruction, at pc: Int, names: UInt16, proofs: JITProofs) {
        let namesR10 = names & (1 << 10) != 0
        if namesR10 { usesFramePointer = true }
        switch instruction {
        case .call(.local):
            localCalls = true
        case .call:
            helperCalls = true
        case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
            let needsCheck = JITStackSizing.needsCheck(instruction)
            if needsCheck, !proofs.provesSafe(instruction, at: pc) { unproven = true }
            depth = max(depth, JITStackSizing.depth(of: instruction))
            // Static, not whether the access is checked: proofs never shrink
            // the stack below what an escaped pointer may reach.
            if namesR10, needsCheck { escapes = true }
            if case .store(_, _, _, .r10) = instruction { escapes = true }       // r10 stored to memory
            if case .atomic(_, _, _, _, .r10) = instruction { escapes = true }
        case .alu, .movsx:
            if namesR10 { escapes = true }   // r10 escapes into a register
        default:
            break
        }
    }

    /// Takes in what `other` noted (the union of two ranges of a program).
    public mutating func merge(_ other: JITStackUse) {
        usesFramePointer = usesFramePointer || other.usesFramePointer
        localCalls = localCalls || other.localCalls
        helperCalls = helperCalls || other.helperCalls
        escapes = escapes || other.escapes
        unproven = unproven || other.unproven
        depth = max(depth, other.depth)
    }

    /// The bytes to reserve (`JITStackSizing.stackSize`); `granule`: the
    /// backend's stack clear.
    public func stackSize(proofs: JITProofs, granule: Int) -> Int {
        JITStackSizing.stackSize(usesFramePointer: usesFramePointer, localCalls: localCalls, escapes: escapes,
                                 reachable: unproven || (helperCalls && !proofs.helperArgumentsStayInFrames), depth: depth, granule: granule)
    }
}
