import BPFISA
import BPFRuntime

extension Analysis {
    /// Why an access of `size` bytes at `base + offset` might leave the
    /// run's memory, or nil when it cannot on this state.
    func accessProblem(_ state: State, base: Value, offset: Int, size: Int, write: Bool, atomic: Bool) -> String? {
        let what = "\(size)-byte \(atomic ? "atomic" : write ? "write" : "read")"
        switch base {
        case .stack(let frame, let off, let v):
            // Never the case (returning such a pointer is refused); kept so that no proof can rest on it.
            guard frame < state.depth else { return "\(what) through a pointer into a frame that has returned" }
            let (low, high) = Self.accessSpan(off, v, offset: offset, size: size)
            guard low >= -ExecutionLimits.stackSizePerFrame, high <= 0 else {
                return "\(what) at frame offsets [\(low), \(high)) leaves the \(ExecutionLimits.stackSizePerFrame)-byte stack frame"
            }
            if atomic, v != .zero || (off + offset) % size != 0 { return "\(what) not known to be naturally aligned" }
            return nil
        case .context(let off):
            guard case .packetContext(let contextSize, _) = environment.context else { return "\(what) of an unknown context" }
            let low = off + offset
            guard low >= 0, low + size <= contextSize else { return "\(what) at context offset \(low) is outside its \(contextSize) bytes" }
            if atomic || (write && !environment.writableContext.contains(where: { $0.contains(low) && low + size <= $0.upperBound })) {
                return "\(what) at context offset \(low): that part of the context is read-only"
            }
            return nil
        case .packet(let id, let off, let v):
            guard !atomic else { return "\(what) on the packet (alignment unknown)" }
            let input = environment.r2IsInputLength
            guard off + offset + v.low >= 0 else { return "\(what) may start before the \(input ? "input" : "packet")" }
            var range = state.packetRanges[id]
            if input {
                // What the length is known to be at least covers the bytes
                // up to it from the furthest this pointer may have moved.
                let known = state.lengthMin - v.high
                range = max(range ?? known, known)
            }
            guard let range, off + offset + size <= range else {
                return "\(what) past the checked \(input ? "input length" : "packet range")"
            }
            return nil
        case .region(let r, let off, let v):
            let (low, high) = Self.accessSpan(off, v, offset: offset, size: size)
            guard low >= 0, high <= r.size else { return "\(what) at offsets [\(low), \(high)) is outside the \(r.size)-byte value" }
            if (write || atomic) && !r.writable { return "\(what) to read-only memory" }
            if atomic, v != .zero || (off + offset) % size != 0 { return "\(what) not known to be naturally aligned" }
            return nil
        case .mapValueOrNull:
            return "\(what) through a map lookup's result before its null check"
        case .reference(_, _, let maybeNull):
            return maybeNull ? "\(what) through an acquired reference before its null check"
                : "\(what) through an acquired reference (its size is not tracked)"
        case .innerMapOrNull:
            return "\(what) through a map of maps lookup's result before its null check"
        case .uninitialized, .scalar, .packetEnd, .mapHandle, .innerMap:
            return "\(what) through a pointer the verifier cannot bound"
        }
    }

    /// The bytes an access of `size` at `offset` from a pointer `off + v`
    /// (its fixed and variable parts) may touch: from `low` up to `high`,
    /// relative to where the pointer's region starts (for the stack, to r10).
    static func accessSpan(_ off: Int, _ v: Span, offset: Int, size: Int) -> (low: Int, high: Int) {
        (off + offset + v.low, off + offset + v.high + size)
    }

    /// Why an access of `size` bytes at `base + offset` cannot touch the
    /// run's stack, the context or the packet its pointer points into, for
    /// any value the pointer may hold, or (through a map lookup's result
    /// before its null check) the value, whichever it is; nil when some
    /// value may. The stack is every
    /// engine's: `ExecutionLimits.maxCallFrames` frames of
    /// `stackSizePerFrame` bytes side by side, the entry frame (0) on top,
    /// so a pointer into frame f reaches from f frames above its r10 down to
    /// the last frame's bottom (a callee may read its caller's frame through
    /// its own r10, as the interpreter defines it).
    func wholeAccessOutside(_ base: Value, offset: Int, size: Int) -> String? {
        switch base {
        case .stack(let frame, let off, let v):
            let (low, high) = Self.accessSpan(off, v, offset: offset, size: size)
            let bytes = ExecutionLimits.stackSizePerFrame
            let top = frame * bytes, bottom = -(ExecutionLimits.maxCallFrames - frame) * bytes
            guard high <= bottom || low >= top else { return nil }
            return "the access of \(size) bytes at frame offsets [\(low), \(high)) lies wholly outside the stack, "
                + "which is [\(bottom), \(top)) from frame \(frame)'s r10"
        case .context(let off):
            guard case .packetContext(let contextSize, _) = environment.context else { return nil }
            let low = off + offset
            guard low + size <= 0 || low >= contextSize else { return nil }
            return "the access of \(size) bytes at context offset \(low) lies wholly outside the \(contextSize)-byte context"
        case .packet(_, let off, let v):
            // The packet's memory ends where the run says (its length is
            // not known here), but it never starts lower than its metadata:
            // at most `VerifierEnvironment.maxPacketMetadata` bytes before
            // `data`, and for a `mem` input not before it at all.
            let (low, high) = Self.accessSpan(off, v, offset: offset, size: size)
            let before = environment.r2IsInputLength ? 0 : VerifierEnvironment.maxPacketMetadata
            guard high <= -before else { return nil }
            let what = environment.r2IsInputLength ? "input" : "packet"
            return "the access of \(size) bytes at \(what) offsets [\(low), \(high)) lies wholly before the \(what), "
                + (before == 0 ? "which starts at r1" : "whose memory starts at most \(before) bytes before data (its metadata)")
        case .mapValueOrNull(_, let r):
            // Where the value is not null, bytes outside it belong to the
            // map's neighbouring elements or to whatever lies next to its
            // storage (where it is null, nowhere).
            guard offset < 0 || offset + size > r.size else { return nil }
            return "the access of \(size) bytes at offsets [\(offset), \(offset + size)) is outside the \(r.size)-byte value"
        default:
            return nil
        }
    }

    /// Checks one access and records the outcome; the base is read as an
    /// operand. On the stack: the depth, what it reads must be written, what
    /// it writes is (`read`: a load or an atomic; `write`: a store or an atomic).
    func access(_ state: inout State, base r: Register, offset: Int16, size: Int, write: Bool, atomic: Bool, at pc: Int) {
        let base = read(state, r, at: pc)
        checkNullChecked(base, "\(r) + \(offset)", at: pc)
        touchStack(&state, base: base, offset: Int(offset), size: size, read: !write || atomic, write: write, at: pc)
        let problem = accessProblem(state, base: base, offset: Int(offset), size: size, write: write, atomic: atomic)
        checkCallbackAccess(state, base: base, write: write, problem: problem, at: pc)
        if let problem {
            // A map value or global datum: the run-time check knows only the
            // slab, whose elements lie side by side, so an access past one
            // value that lands in the next is indistinguishable from an access
            // to that one. Refused, as the kernel refuses it.
            if case .region = base {
                refuse("instruction \(pc): \(r) + \(offset) (\(base.summary)): \(problem)")
                return
            }
            // On every path here the access lies wholly outside the stack,
            // the context or the packet its pointer was derived from, or
            // outside the value a lookup's result not yet null-checked
            // points to (it lands in a neighbour where it is not null). What it
            // reaches instead depends on how each engine lays memory out (a
            // neighbouring frame, the heap block after the interpreter's
            // stack, the host's stack above the JIT's frame), so its outcome
            // is an accident of layout whatever the run-time check says.
            // Refused, as the kernel refuses it.
            if let outside = wholeAccessOutside(base, offset: Int(offset), size: size) {
                refuse("instruction \(pc): \(r) + \(offset) (\(base.summary)): \(outside)")
                return
            }
            var description = "\(base.packetID.flatMap { state.packetRanges[$0] }.map { "range \($0)" } ?? "")"
            if !description.isEmpty { description = ", " + description }
            record(access: pc, problem: "instruction \(pc): \(r) + \(offset) (\(base.summary)\(description)): \(problem)")
        } else {
            record(access: pc, problem: nil)
        }
    }

    /// `dst = *(size *)(src + offset)`: an unknown number of the size's
    /// range, or for the context's pointer fields the packet pointers.
    func load(_ state: inout State, _ size: AccessSize, dst: Register, src: Register, offset: Int16, signed: Bool, at pc: Int) {
        access(&state, base: src, offset: offset, size: size.bytes, write: false, atomic: false, at: pc)
        checkContextFieldLoad(state[src.index], size: size.bytes, offset: Int(offset), signed: signed, at: pc)
        var result: Value = .scalar(signed ? .signExtended(bytes: size.bytes) : .loaded(bytes: size.bytes))
        // A fill: the register spilled there (see `Spill`).
        if !signed, size == .double, let spilled = filled(state, base: state[src.index], offset: offset) { result = spilled }
        if case .context(let off) = state[src.index], !signed, size == .double,
           case .packetContext(_, let fields) = environment.context, let field = fields[off + Int(offset)] {
            switch field {
            case .packetStart:
                // `data` itself: the variable part is 0; share the id of any copy already held.
                let existing = state.allValues().first { if case .packet(_, _, .zero) = $0 { true } else { false } }
                if let id = existing?.packetID, state.packetRangesAreForData(id) {
                    result = .packet(id: id, offset: 0, variable: .zero)
                } else {
                    result = .packet(id: state.freshID(), offset: 0, variable: .zero)
                }
            case .packetEnd: result = .packetEnd
            case .packetMeta: result = .unknown
            }
        }
        state[dst.index] = result
    }

    /// Stores and atomics: memory is not tracked but for spilled registers
    /// (`Spill`: recorded or forgotten after the access), so the access is
    /// checked and the registers an atomic writes become unknown.
    func store(_ state: inout State, _ instruction: Instruction, at pc: Int) {
        var base: Value = .uninitialized, stored: Value? = nil
        switch instruction {
        case .store(_, let dst, _, let src): base = state[dst.index]; stored = state[src.index]
        case .storeImmediate(_, let dst, _, _), .atomic(_, _, let dst, _, _): base = state[dst.index]
        default: break
        }
        defer { spillAfterStore(&state, instruction, base: base, value: stored) }
        switch instruction {
        case .storeImmediate(let size, let dst, let offset, _):
            access(&state, base: dst, offset: offset, size: size.bytes, write: true, atomic: false, at: pc)
        case .store(let size, let dst, let offset, let src):
            let value = read(state, src, at: pc)
            checkKeyEscape(state, value, at: pc)
            if value.isStack { stackEscapes("instruction \(pc): a stack pointer is stored to memory") }
            // Memory does not keep what a register was: a pointer stored
            // anywhere (even spilled to the stack) comes back as a number.
            checkNoLeak(value, "storing \(src) to memory", at: pc)
            access(&state, base: dst, offset: offset, size: size.bytes, write: true, atomic: false, at: pc)
        case .atomic(let width, let op, let dst, let offset, let src):
            let value = read(state, src, at: pc)
            checkKeyEscape(state, value, at: pc)
            if value.isStack { stackEscapes("instruction \(pc): a stack pointer is stored to memory") }
            checkNoLeak(value, "an atomic operation on \(src)", at: pc)
            if op == .cmpxchg {
                let expected = read(state, .r0, at: pc)
                if expected.isStack { stackEscapes("instruction \(pc): a stack pointer is stored to memory") }
                checkNoLeak(expected, "cmpxchg's r0", at: pc)
            }
            let bytes = width == .w64 ? 8 : 4
            access(&state, base: dst, offset: offset, size: bytes, write: true, atomic: true, at: pc)
            let old = Value.scalar(.loaded(bytes: bytes))
            if op == .cmpxchg { state[0] = old } else if op.fetches { state[src.index] = old }
        default:
            break
        }
    }
}

extension State {
    /// Whether packet id `id` is one whose variable part is exactly 0
    /// everywhere it appears (so a fresh load of `data` may share it).
    func packetRangesAreForData(_ id: Int) -> Bool {
        allValues().allSatisfy { value in
            if case .packet(id, _, let v) = value { return v == .zero }
            return true
        }
    }
}

extension Analysis {
    /// Under a policy without pointer leaks: a context load that reads part
    /// of a pointer field as a number (any load of it but the 8-byte one that
    /// gives the tracked pointer; `data_meta`, which is not tracked).
    func checkContextFieldLoad(_ base: Value, size: Int, offset: Int, signed: Bool, at pc: Int) {
        guard !policy.allowsPointerLeaks, case .context(let off) = base,
              case .packetContext(_, let fields) = environment.context else { return }
        let low = off + offset, high = low + size
        for (field, kind) in fields where low < field + 8 && field < high {
            if low == field, size == 8, !signed, kind != .packetMeta { continue }
            refuse("instruction \(pc): a \(size)-byte load at context offset \(low) reads a pointer field as a number")
        }
    }
}
