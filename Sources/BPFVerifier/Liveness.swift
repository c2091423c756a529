import BPFISA

/// Which registers of its own frame each instruction may still read before
/// writing them (the kernel's REG_LIVE_READ, computed ahead instead of
/// during exploration): at a pruning point, a register no path from there
/// reads before it writes it cannot change what the rest of the run does,
/// so the exploration forgets it (`State.forgetDeadRegisters`) and states
/// that differ only there prune each other.
///
/// The analysis is within a function and errs towards live: every call
/// reads r1–r5 and writes only r0 (a helper clobbers r1–r5 too, but a
/// `bpf_tail_call` that falls through keeps them), an atomic's source stays
/// live, and `exit` reads r0. r10 is always live.
struct Liveness {
    /// Per slot: bit r set when register r is live on entry to the slot.
    let liveIn: [UInt16]
    /// Per slot: bit r set when the number register r holds on entry may
    /// still decide something the verifier checks (`relevantIn`).
    let relevantIn: [UInt16]
    /// Per slot: bit k set when the register spilled to the 8-byte stack slot
    /// at r10 - 8(k + 1) of the current frame may still matter (it may be
    /// filled into a register that does): the other spills are forgotten at
    /// pruning points (`State.forgetIrrelevantSpills`), as numbers are.
    let relevantSlotsIn: [UInt64]

    static let always: UInt16 = 1 << 10
    static let arguments: UInt16 = 0b11_1110

    init(_ instructions: [Instruction]) {
        let count = instructions.count
        var gen = [UInt16](repeating: 0, count: count), kill = [UInt16](repeating: 0, count: count)
        var successors = [[Int]](repeating: [], count: count)
        func bit(_ r: Register) -> UInt16 { UInt16(1) << UInt16(r.index) }
        for (pc, instruction) in instructions.enumerated() {
            var next = [pc + 1]
            switch instruction {
            case .alu(_, let op, let dst, let operand):
                if op != .mov { gen[pc] |= bit(dst) }
                if case .register(let r) = operand { gen[pc] |= bit(r) }
                kill[pc] = bit(dst)
            case .neg(_, let dst), .byteSwap(_, let dst, _):
                gen[pc] = bit(dst)
            case .movsx(_, let dst, let src, _):
                gen[pc] = bit(src); kill[pc] = bit(dst)
            case .jump, .jumpLong:
                next = instruction.target(at: pc).map { [$0] } ?? []
            case .branch(_, _, let dst, let operand, _):
                gen[pc] = bit(dst)
                if case .register(let r) = operand { gen[pc] |= bit(r) }
                if let target = instruction.target(at: pc) { next.append(target) }
            case .call(let target):
                gen[pc] = Self.arguments
                if case .register(let r) = target { gen[pc] |= bit(r) }
                kill[pc] = 1
            case .exit:
                gen[pc] = 1
                next = []
            case .loadImmediate64(let dst, _):
                kill[pc] = bit(dst)
                next = [pc + 2]
            case .immediate64Tail:
                next = []
            case .load(_, let dst, let src, _), .loadSignExtend(_, let dst, let src, _):
                gen[pc] = bit(src)
                if dst != src { kill[pc] = bit(dst) }
            case .storeImmediate(_, let dst, _, _):
                gen[pc] = bit(dst)
            case .store(_, let dst, _, let src):
                gen[pc] = bit(dst) | bit(src)
            case .atomic(_, let op, let dst, _, let src):
                gen[pc] = bit(dst) | bit(src) | (op == .cmpxchg ? 1 : 0)
            }
            successors[pc] = next.filter { $0 >= 0 && $0 < count }
        }
        var live = [UInt16](repeating: Self.always, count: count)
        var changed = true
        while changed {
            changed = false
            for pc in stride(from: count - 1, through: 0, by: -1) {
                var out: UInt16 = 0
                for s in successors[pc] { out |= live[s] }
                let value = gen[pc] | (out & ~kill[pc]) | Self.always
                if value != live[pc] { live[pc] = value; changed = true }
            }
        }
        liveIn = live
        (relevantIn, relevantSlotsIn) = Self.relevance(instructions, successors: successors)
    }

    /// The bit of the 8-byte stack slot at `offset` from r10, if it is one.
    static func slotBit(_ offset: Int16) -> UInt64? {
        guard offset < 0, offset >= -512, offset % 8 == 0 else { return nil }
        return UInt64(1) << UInt64(-Int(offset) / 8 - 1)
    }

    /// The bits of the 8-byte stack slots `[offset, offset + size)` overlaps.
    static func slotsOverlapping(_ offset: Int16, _ size: Int) -> UInt64 {
        var mask: UInt64 = 0
        var k = 0
        while k < 64 {
            let low = -8 * (k + 1)
            if Int(offset) < low + 8 && Int(offset) + size > low { mask |= UInt64(1) << UInt64(k) }
            k += 1
        }
        return mask
    }

    /// Which registers hold numbers whose exact value may still matter (the
    /// kernel's precision marks, computed ahead and erring towards
    /// relevant): a number matters when it may flow into a branch condition,
    /// an address (a pointer offset; the base of a load, store or atomic),
    /// a helper's or local call's arguments, a `callx` number or the r0 a
    /// subprogram returns (through any arithmetic; pointer arithmetic
    /// included, so an offset added to a pointer that is then dereferenced
    /// matters). Numbers that only reach memory or the entry
    /// function's r0 (counters, hashes, checksums) do not: forgetting them
    /// at pruning points (`State.forgetIrrelevantNumbers`) loses nothing the
    /// proofs use, and lets states that differ only there prune each other.
    static func relevance(_ instructions: [Instruction], successors: [[Int]]) -> ([UInt16], [UInt64]) {
        let count = instructions.count
        func bit(_ r: Register) -> UInt16 { UInt16(1) << UInt16(r.index) }
        // The entry function ends where the first subprogram starts.
        var entryEnd = count
        for (pc, instruction) in instructions.enumerated() {
            if case .call(.local) = instruction, let target = instruction.target(at: pc) { entryEnd = min(entryEnd, target) }
        }
        var relevant = [UInt16](repeating: Self.always, count: count)
        var slots = [UInt64](repeating: 0, count: count)
        var changed = true
        while changed {
            changed = false
            for pc in stride(from: count - 1, through: 0, by: -1) {
                var out: UInt16 = 0, outSlots: UInt64 = 0
                for s in successors[pc] { out |= relevant[s]; outSlots |= slots[s] }
                var value = out, slotValue = outSlots
                // Spills and fills through r10 (`Spill`): a fill makes its slot
                // matter when its register does, a spill its register when its
                // slot does; any write over a slot ends what it held.
                switch instructions[pc] {
                case .load(.double, let dst, .r10, let offset):
                    if out & bit(dst) != 0, let b = slotBit(offset) { slotValue |= b }
                case .store(let size, .r10, let offset, let src):
                    if size == .double, let b = slotBit(offset), outSlots & b != 0 { value |= bit(src) }
                    slotValue &= ~slotsOverlapping(offset, size.bytes)
                case .storeImmediate(let size, .r10, let offset, _):
                    slotValue &= ~slotsOverlapping(offset, size.bytes)
                case .call(.local):
                    slotValue = .max   // the callee may fill through a pointer into this frame
                case .exit:
                    slotValue = 0
                default:
                    break
                }
                switch instructions[pc] {
                case .alu(_, let op, let dst, let operand):
                    let matters = out & bit(dst) != 0
                    value &= ~bit(dst)
                    if matters, case .register(let r) = operand { value |= bit(r) }
                    if matters && op != .mov { value |= bit(dst) }
                case .neg, .byteSwap:
                    break   // the register's own value goes on
                case .movsx(_, let dst, let src, _):
                    let matters = out & bit(dst) != 0
                    value &= ~bit(dst)
                    if matters { value |= bit(src) }
                case .branch(_, _, let dst, let operand, _):
                    value |= bit(dst)
                    if case .register(let r) = operand { value |= bit(r) }
                case .call(let target):
                    value &= ~1
                    value |= Self.arguments
                    if case .register(let r) = target { value |= bit(r) }
                case .exit:
                    value = pc >= entryEnd ? 1 : 0
                case .loadImmediate64(let dst, _):
                    value &= ~bit(dst)
                case .load(_, let dst, let src, _), .loadSignExtend(_, let dst, let src, _):
                    value &= ~bit(dst)
                    value |= bit(src)
                case .storeImmediate(_, let dst, _, _), .store(_, let dst, _, _):
                    value |= bit(dst)
                case .atomic(_, let op, let dst, _, let src):
                    value |= bit(dst) | bit(src) | (op == .cmpxchg ? 1 : 0)
                case .jump, .jumpLong, .immediate64Tail:
                    break
                }
                value |= Self.always
                if value != relevant[pc] { relevant[pc] = value; changed = true }
                if slotValue != slots[pc] { slots[pc] = slotValue; changed = true }
            }
        }
        return (relevant, slots)
    }
}

extension State {
    /// Forgets the innermost frame's registers not in `live` (they become
    /// uninitialized, which every stored state includes and no path reads).
    mutating func forgetDeadRegisters(_ live: UInt16) {
        for r in 0..<10 where live & (UInt16(1) << UInt16(r)) == 0 {
            if case .uninitialized = self[r] { continue }
            self[r] = .uninitialized
        }
    }
}

extension State {
    /// Forgets the innermost frame's spilled slots not in `relevant`
    /// (`Liveness.relevantSlotsIn`): a fill of one gives an unknown number,
    /// a superset of what it held.
    mutating func forgetIrrelevantSpills(_ relevant: UInt64) {
        let f = frames.count - 1
        func irrelevant(_ spill: Spill) -> Bool { Liveness.slotBit(Int16(spill.offset)).map { relevant & $0 == 0 } ?? true }
        // Checked first: removing in place would copy a list shared with a kept state even when nothing goes.
        guard frames[f].spills.contains(where: irrelevant) else { return }
        frames[f].spills.removeAll(where: irrelevant)
    }
}

extension State {
    /// Makes the innermost frame's numbers not in `relevant` unknown (a
    /// superset of what they were: sound whatever they held).
    mutating func forgetIrrelevantNumbers(_ relevant: UInt16) {
        for r in 0..<10 where relevant & (UInt16(1) << UInt16(r)) == 0 {
            if case .scalar(let s) = self[r], s != .unknown { self[r] = .unknown }
        }
    }
}
