import BPFISA

extension JumpCondition {
    /// The condition that holds exactly when this one does not (`set` has none: nil).
    var negated: JumpCondition? {
        switch self {
        case .eq: .ne
        case .ne: .eq
        case .gt: .le
        case .le: .gt
        case .ge: .lt
        case .lt: .ge
        case .sgt: .sle
        case .sle: .sgt
        case .sge: .slt
        case .slt: .sge
        case .set: nil
        }
    }

    /// The condition with its operands swapped (`a < b` is `b > a`).
    var swapped: JumpCondition {
        switch self {
        case .gt: .lt
        case .lt: .gt
        case .ge: .le
        case .le: .ge
        case .sgt: .slt
        case .slt: .sgt
        case .sge: .sle
        case .sle: .sge
        default: self
        }
    }
}

extension Scalar {
    /// `a` and `b` narrowed to the members for which `a cond b` holds (64-bit
    /// comparison); nil when no pair of members satisfies it.
    static func refine(_ cond: JumpCondition, _ a: Scalar, _ b: Scalar) -> (Scalar, Scalar)? {
        var a = a, b = b
        switch cond {
        case .eq:
            guard let both = a.intersection(b) else { return nil }
            return (both, both)
        case .ne:
            if let x = a.constant, let y = b.constant { return x == y ? nil : (a, b) }
            if let y = b.constant { guard let n = a.excluding(y) else { return nil }; a = n }
            if let x = a.constant { guard let n = b.excluding(x) else { return nil }; b = n }
            return (a, b)
        case .gt:
            guard b.umin < .max, a.umax > 0 else { return nil }
            a.umin = max(a.umin, b.umin + 1)
            b.umax = min(b.umax, a.umax - 1)
        case .ge:
            a.umin = max(a.umin, b.umin)
            b.umax = min(b.umax, a.umax)
        case .sgt:
            guard b.smin < .max, a.smax > .min else { return nil }
            a.smin = max(a.smin, b.smin + 1)
            b.smax = min(b.smax, a.smax - 1)
        case .sge:
            a.smin = max(a.smin, b.smin)
            b.smax = min(b.smax, a.smax)
        case .lt, .le, .slt, .sle:
            guard let (nb, na) = refine(cond.swapped, b, a) else { return nil }
            return (na, nb)
        case .set:
            if let x = a.constant, let y = b.constant { return x & y != 0 ? (a, b) : nil }
            if a.umax == 0 || b.umax == 0 { return nil }
            return (a, b)
        }
        guard let na = a.normalized(), let nb = b.normalized() else { return nil }
        return (na, nb)
    }

    /// `a cond b` does not hold: the negated refinement (for `set`: both
    /// operands kept unless both are constants).
    static func refineNot(_ cond: JumpCondition, _ a: Scalar, _ b: Scalar) -> (Scalar, Scalar)? {
        if let negated = cond.negated { return refine(negated, a, b) }
        if let x = a.constant, let y = b.constant { return x & y == 0 ? (a, b) : nil }
        return (a, b)
    }

    /// The members other than `value` (only an end of a range can be removed).
    func excluding(_ value: UInt64) -> Scalar? {
        var s = self
        if s.umin == value { guard s.umin < s.umax else { return nil }; s.umin += 1 }
        if s.umax == value { guard s.umin < s.umax else { return nil }; s.umax -= 1 }
        let signed = Int64(bitPattern: value)
        if s.smin == signed { guard s.smin < s.smax else { return nil }; s.smin += 1 }
        if s.smax == signed { guard s.smin < s.smax else { return nil }; s.smax -= 1 }
        return s.normalized()
    }
}

extension Analysis {
    /// `if dst cond operand goto target`: the feasible successors, each with
    /// what the outcome teaches about the operands. The first is returned
    /// (nil: none), a second goes to `others`. `state` is consumed, so that
    /// the two successors share its frames until one is written: one copy
    /// of the frames where both learn something, not two.
    func branch(_ state: consuming State, _ width: Width, _ cond: JumpCondition, dst: Register, _ operand: Operand,
                target: Int, at pc: Int, others: inout [State]) -> State? {
        let a = read(state, dst, at: pc)
        let b: Value
        var sourceRegister: Register? = nil
        switch operand {
        case .register(let r): b = read(state, r, at: pc); sourceRegister = r
        case .immediate(let imm):
            let signed = cond.isSigned
            // JMP32 compares low halves: an unsigned (or equality) immediate
            // is its 32 bits zero-extended, a signed one sign-extended.
            b = .scalar(Scalar(constant: width == .w64 || signed ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))))
        }
        var fallThrough = consume state
        var taken = fallThrough
        taken.pc = target
        fallThrough.pc = pc + 1
        var takenFeasible = true, fallFeasible = true

        switch (a, b) {
        case (.scalar(let x), .scalar(let y)):
            if let cx = x.constant, let cy = y.constant {
                let holds = cond.holds(cx, cy, width: width)
                return holds ? taken : fallThrough
            }
            if sourceRegister == dst { break }   // `r op r`: learn nothing
            if width == .w32, !Self.comparesLikeW64(cond, x, y), cond == .eq || cond == .ne, y.constant == 0, x.umin == 0 {
                // The low half is not 0 on one edge: then neither is the number.
                var nonzero = x
                nonzero.umin = 1
                if let n = nonzero.normalized() {
                    let learns = environment.r2IsInputLength
                    if cond == .ne {
                        taken[dst.index] = .scalar(n)
                        if learns { learnLength(.ne, n, y, dst: dst, source: nil, in: &taken) }
                        syncLinks(from: dst, in: &taken)
                    } else {
                        fallThrough[dst.index] = .scalar(n)
                        if learns { learnLength(.ne, n, y, dst: dst, source: nil, in: &fallThrough) }
                        syncLinks(from: dst, in: &fallThrough)
                    }
                }
                break
            }
            guard width == .w64 || Self.comparesLikeW64(cond, x, y) else { break }
            // A refinement narrows the same numbers: their links stay.
            func relinked(_ n: Scalar, _ original: Scalar) -> Value {
                var n = n
                n.link = original.link
                return .scalar(n)
            }
            if let (nx, ny) = Scalar.refine(cond, x, y) {
                taken[dst.index] = relinked(nx, x)
                if let s = sourceRegister { taken[s.index] = relinked(ny, y) }
            } else { takenFeasible = false }
            if let (nx, ny) = Scalar.refineNot(cond, x, y) {
                fallThrough[dst.index] = relinked(nx, x)
                if let s = sourceRegister { fallThrough[s.index] = relinked(ny, y) }
            } else { fallFeasible = false }
            if environment.r2IsInputLength {
                if takenFeasible { learnLength(cond, x, y, dst: dst, source: sourceRegister, in: &taken) }
                if fallFeasible, let negated = cond.negated {
                    learnLength(negated, x, y, dst: dst, source: sourceRegister, in: &fallThrough)
                }
            }
            // What the comparison taught reaches every register linked to an operand.
            if takenFeasible { syncLinks(from: dst, in: &taken) }
            if fallFeasible { syncLinks(from: dst, in: &fallThrough) }
            if let s = sourceRegister {
                if takenFeasible { syncLinks(from: s, in: &taken) }
                if fallFeasible { syncLinks(from: s, in: &fallThrough) }
            }
        case (.packet(let id, let off, let v), .packetEnd) where width == .w64:
            learnPacket(cond, id: id, offset: off, pointerFirst: true, taken: &taken, fallThrough: &fallThrough)
            if environment.r2IsInputLength && v == .zero { learnMinimum(id, &taken, &fallThrough) }
        case (.packetEnd, .packet(let id, let off, let v)) where width == .w64:
            learnPacket(cond, id: id, offset: off, pointerFirst: false, taken: &taken, fallThrough: &fallThrough)
            if environment.r2IsInputLength && v == .zero { learnMinimum(id, &taken, &fallThrough) }
        case (.mapValueOrNull(let id, let region), .scalar(let zero)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne),
             (.scalar(let zero), .mapValueOrNull(let id, let region)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne):
            // The null check: every copy of the lookup's result learns it.
            let isNull: (Value) -> Value? = { $0.nullID == id ? .scalar(Scalar(constant: 0)) : nil }
            let isValue: (Value) -> Value? = { $0.nullID == id ? .region(region, offset: 0, variable: .zero) : nil }
            taken.rewriteAll(cond == .eq ? isNull : isValue)
            fallThrough.rewriteAll(cond == .eq ? isValue : isNull)
        case (.innerMapOrNull(let id, let map), .scalar(let zero)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne),
             (.scalar(let zero), .innerMapOrNull(let id, let map)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne):
            // A map of maps lookup's null check: non-null, it is an inner map.
            let isNull: (Value) -> Value? = { $0.nullID == id ? .scalar(Scalar(constant: 0)) : nil }
            let isMap: (Value) -> Value? = { $0.nullID == id ? .innerMap(map) : nil }
            taken.rewriteAll(cond == .eq ? isNull : isMap)
            fallThrough.rewriteAll(cond == .eq ? isMap : isNull)
        case (.reference(let id, 0, true), .scalar(let zero)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne),
             (.scalar(let zero), .reference(let id, 0, true)) where width == .w64 && zero.constant == 0 && (cond == .eq || cond == .ne):
            // A reference's null check: where it is null nothing was acquired.
            func isNull(_ state: inout State) {
                state.rewriteAll { $0.referenceID == id ? .scalar(Scalar(constant: 0)) : nil }
                state.references.removeAll { $0.id == id }
            }
            func isValue(_ state: inout State) {
                state.rewriteAll { $0.referenceID == id ? .reference(id: id, offset: 0, maybeNull: false) : nil }
            }
            if cond == .eq { isNull(&taken); isValue(&fallThrough) } else { isValue(&taken); isNull(&fallThrough) }
        default:
            checkPointerComparison(a, b, at: pc)
        }
        guard fallFeasible else { return takenFeasible ? taken : nil }
        if takenFeasible { others.append(taken) }
        return fallThrough
    }

    /// Whether a JMP32 comparison of these operands gives the same answer as
    /// the 64-bit one, so that the 64-bit refinement is exact: both halves
    /// are the whole values (unsigned), or non-negative 32-bit numbers (signed,
    /// where an immediate is already sign-extended).
    static func comparesLikeW64(_ cond: JumpCondition, _ a: Scalar, _ b: Scalar) -> Bool {
        if cond.isSigned {
            let limit = UInt64(Int32.max)
            let bOK = b.umax <= limit || (b.isConstant && b.smin >= Int64(Int32.min) && b.smin < 0)
            return a.umax <= limit && bOK
        }
        return a.fits32 && b.fits32
    }

    /// `mem` programs: on an edge where unsigned `x cond y` holds (64-bit,
    /// or 32-bit comparing alike), a bound of one operand against the
    /// input's length L bounds the other (`x < y` and `y + k <= L` give
    /// `x + k + 1 <= L`), and any operand so bounded bounds L from below
    /// (`L >= x.umin + k`).
    func learnLength(_ cond: JumpCondition, _ x: Scalar, _ y: Scalar, dst: Register, source: Register?, in state: inout State) {
        var learnedX: LengthBound? = nil, learnedY: LengthBound? = nil
        func after(_ b: LengthBound?, by delta: Int) -> LengthBound? {
            b.map { LengthBound(slack: $0.slack + delta, exact: false) }
        }
        switch cond {
        case .lt: learnedX = after(y.length, by: 1)
        case .le: learnedX = after(y.length, by: 0)
        case .gt: learnedY = after(x.length, by: 1)
        case .ge: learnedY = after(x.length, by: 0)
        case .eq: learnedX = y.length; learnedY = x.length
        default: break
        }
        func update(_ r: Register, original: Scalar, learned: LengthBound?) {
            guard case .scalar(var s) = state[r.index] else { return }
            // The refinement may have dropped the bound the operand had.
            s.length = LengthBound.stronger(s.length, original.length)
            if let bounded = s.bounded(by: learned) { s = bounded }
            state[r.index] = .scalar(s)
            if let bound = s.length {
                state.lengthMin = max(state.lengthMin, Int(min(s.umin, UInt64(LengthBound.maxLength))) + bound.slack)
            }
        }
        update(dst, original: x, learned: learnedX)
        if let source { update(source, original: y, learned: learnedY) }
    }

    /// Carries what register `r` (of the innermost frame) holds to every
    /// register linked to it, in every frame, shifted by the difference of
    /// their deltas and intersected with what each held (the kernel's
    /// `sync_linked_regs`).
    func syncLinks(from r: Register, in state: inout State) {
        guard case .scalar(let known) = state[r.index], let link = known.link else { return }
        let innermost = state.frames.count - 1
        for f in state.frames.indices {
            for i in state.frames[f].registers.indices where f != innermost || i != r.index {
                guard case .scalar(let other) = state.frames[f].registers[i], let l = other.link, l.id == link.id else { continue }
                state.frames[f].registers[i] = .scalar(Scalar.shifted(known, by: l.delta - link.delta, into: other))
            }
            // Spilled copies too (see `Spill`).
            for i in state.frames[f].spills.indices {
                guard case .scalar(let other) = state.frames[f].spills[i].value, let l = other.link, l.id == link.id else { continue }
                state.frames[f].spills[i].value = .scalar(Scalar.shifted(known, by: l.delta - link.delta, into: other))
            }
        }
    }

    /// `mem` programs: `data + off` (no variable part) compared with the
    /// end: the range it learned is a lower bound of the length.
    func learnMinimum(_ id: Int, _ taken: inout State, _ fallThrough: inout State) {
        if let range = taken.packetRanges[id] { taken.lengthMin = max(taken.lengthMin, range) }
        if let range = fallThrough.packetRanges[id] { fallThrough.lengthMin = max(fallThrough.lengthMin, range) }
    }

    /// `pkt cond pkt_end` (or the reverse): on the edge where
    /// `data + v + offset <= data_end` (or `<`) holds, the id's range grows.
    func learnPacket(_ cond: JumpCondition, id: Int, offset: Int, pointerFirst: Bool,
                     taken: inout State, fallThrough: inout State) {
        guard offset >= 0 else { return }
        // Normalize to `pkt cond' end`.
        let c = pointerFirst ? cond : cond.swapped
        func grow(_ state: inout State, _ readable: Int) {
            state.packetRanges[id] = max(state.packetRanges[id] ?? readable, readable)
        }
        switch c {
        case .gt: grow(&fallThrough, offset)        // not (pkt > end): pkt <= end
        case .ge: grow(&fallThrough, offset + 1)    // not (pkt >= end): pkt < end
        case .lt: grow(&taken, offset + 1)          // pkt < end
        case .le: grow(&taken, offset)              // pkt <= end
        default: break
        }
    }
}

extension Analysis {
    /// Under a policy without pointer leaks: a comparison that involves a
    /// pointer other than a packet bound check or a null check tells the
    /// program something about an address (the kernel's "pointer comparison
    /// prohibited").
    func checkPointerComparison(_ a: Value, _ b: Value, at pc: Int) {
        guard !policy.allowsPointerLeaks, a.isPointer || b.isPointer else { return }
        refuse("instruction \(pc): pointer comparison prohibited (\(a.summary) with \(b.summary))")
    }
}
