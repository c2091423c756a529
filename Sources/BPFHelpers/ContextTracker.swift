import BPFISA

/// Finds the loads and stores that go through the context pointer, the way
/// the kernel's verifier knows which instructions `convert_ctx_access` must
/// rewrite: a forward dataflow over every function of the program that tracks
/// which registers (and 8-byte stack spill slots) hold the context pointer.
///
/// r1 holds the context on entry; `mov64` copies it; spills to `r10 - off` and
/// fills from there keep it; arguments carry it into subprograms and return
/// values out of them; helper calls clobber r0–r5. Arithmetic on it yields a
/// "modified" context pointer and control-flow joins of "context" with
/// anything else yield "maybe": the kernel refuses to dereference either, and
/// so does BPFKit, at load time and naming the instruction.
struct ContextTracker {
    enum Tag: UInt8 {
        case none, context, modified, maybe

        func join(_ other: Tag) -> Tag { self == other ? self : .maybe }
    }

    struct State: Equatable {
        var registers = [Tag](repeating: .none, count: 11)
        /// Spill slots by (negative) offset from r10, multiples of 8.
        var stack: [Int16: Tag] = [:]

        func join(_ other: State) -> State {
            var out = State()
            for r in 0..<11 { out.registers[r] = registers[r].join(other.registers[r]) }
            for key in Set(stack.keys).union(other.stack.keys) {
                let tag = (stack[key] ?? .none).join(other.stack[key] ?? .none)
                if tag != .none { out.stack[key] = tag }
            }
            return out
        }
    }

    /// A memory access whose base register may hold the context pointer.
    struct Access {
        let pc: Int
        let base: Register
        let tag: Tag
    }

    let program: Program

    /// Every load, store and atomic whose base register is not plainly "not the context".
    func contextAccesses() -> [Access] {
        let states = analyze()
        var out: [Access] = []
        for (pc, instruction) in program.instructions.enumerated() {
            guard let state = states[pc], let base = Self.base(of: instruction) else { continue }
            let tag = state.registers[base.index]
            if tag != .none { out.append(Access(pc: pc, base: base, tag: tag)) }
        }
        return out
    }

    static func base(of instruction: Instruction) -> Register? {
        switch instruction {
        case .load(_, _, let src, _), .loadSignExtend(_, _, let src, _): src
        case .store(_, let dst, _, _), .storeImmediate(_, let dst, _, _), .atomic(_, _, let dst, _, _): dst
        default: nil
        }
    }

    /// The state on entry to every reachable slot.
    func analyze() -> [State?] {
        let instructions = program.instructions
        let entries = program.functionEntries
        func function(of pc: Int) -> Int {
            var low = 0, high = entries.count
            while low < high { let mid = (low + high) / 2; if entries[mid] <= pc { low = mid + 1 } else { high = mid } }
            return entries[max(0, low - 1)]
        }
        var states = [State?](repeating: nil, count: instructions.count)
        var returns: [Int: Tag] = [:]
        var callers: [Int: Set<Int>] = [:]
        var worklist: [Int] = []
        func merge(_ state: State, into pc: Int) {
            guard pc >= 0, pc < instructions.count else { return }
            let joined = states[pc].map { $0.join(state) } ?? state
            if states[pc] != joined { states[pc] = joined; worklist.append(pc) }
        }
        var entry = State()
        entry.registers[1] = .context
        merge(entry, into: 0)
        while let pc = worklist.popLast() {
            guard var s = states[pc] else { continue }
            let instruction = instructions[pc]
            let next = pc + instruction.slotCount
            func derived(_ dst: Register, _ sources: Tag...) -> Tag {
                ([s.registers[dst.index]] + sources).allSatisfy { $0 == .none } ? .none : .modified
            }
            switch instruction {
            case .alu(let width, .mov, let dst, .register(let src)):
                s.registers[dst.index] = width == .w64 ? s.registers[src.index] : (s.registers[src.index] == .none ? .none : .modified)
            case .alu(_, .mov, let dst, .immediate):
                s.registers[dst.index] = .none
            case .alu(_, _, let dst, let operand):
                if case .register(let src) = operand {
                    s.registers[dst.index] = derived(dst, s.registers[src.index])
                } else {
                    s.registers[dst.index] = derived(dst)
                }
            case .neg(_, let dst), .byteSwap(_, let dst, _):
                s.registers[dst.index] = derived(dst)
            case .movsx(_, let dst, let src, _):
                s.registers[dst.index] = s.registers[src.index] == .none ? .none : .modified
            case .loadImmediate64(let dst, _):
                s.registers[dst.index] = .none
            case .load(let size, let dst, let src, let offset):
                s.registers[dst.index] = (src == .r10 && size == .double) ? (s.stack[offset] ?? .none) : .none
            case .loadSignExtend(_, let dst, _, _):
                s.registers[dst.index] = .none
            case .store(let size, let dst, let offset, let src) where dst == .r10:
                Self.clobber(&s, offset, size.bytes)
                if size == .double, offset % 8 == 0, s.registers[src.index] != .none { s.stack[offset] = s.registers[src.index] }
            case .storeImmediate(let size, let dst, let offset, _) where dst == .r10:
                Self.clobber(&s, offset, size.bytes)
            case .atomic(let width, let op, let dst, let offset, let src):
                if dst == .r10 { Self.clobber(&s, offset, width == .w64 ? 8 : 4) }
                if op == .cmpxchg { s.registers[0] = .none } else if op.fetches { s.registers[src.index] = .none }
            case .call(.local):
                guard let target = instruction.target(at: pc) else { break }
                var callee = State()
                for r in 1...5 { callee.registers[r] = s.registers[r] }
                merge(callee, into: target)
                callers[target, default: []].insert(pc)
                // Continue after the call only once the callee's return value is known
                // (its exits re-queue this call site), so no guess has to be joined away.
                guard let returned = returns[target] else { continue }
                s.registers[0] = returned
                for r in 1...5 { s.registers[r] = .none }
            case .call:
                for r in 0...5 { s.registers[r] = .none }
            case .exit:
                let f = function(of: pc)
                let tag = returns[f].map { $0.join(s.registers[0]) } ?? s.registers[0]
                if returns[f] != tag {
                    returns[f] = tag
                    for caller in callers[f] ?? [] { worklist.append(caller) }
                }
                continue
            case .jump, .jumpLong:
                if let target = instruction.target(at: pc) { merge(s, into: target) }
                continue
            case .branch:
                if let target = instruction.target(at: pc) { merge(s, into: target) }
            default:
                break
            }
            merge(s, into: next)
        }
        return states
    }

    /// A store of `size` bytes at `r10 + offset` overwrites the spill slots it touches.
    private static func clobber(_ s: inout State, _ offset: Int16, _ size: Int) {
        let first = Int(offset) & ~7, last = (Int(offset) + size - 1) & ~7
        for slot in stride(from: first, through: last, by: 8) { s.stack[Int16(truncatingIfNeeded: slot)] = nil }
    }
}
