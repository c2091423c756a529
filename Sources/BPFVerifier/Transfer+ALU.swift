import BPFISA

/// Offsets a pointer may carry, constant or variable, so that no address
/// arithmetic can wrap (the kernel keeps packet offsets under 0xffff).
enum PointerLimits {
    static let offset = 1 << 29
    static let packetVariable = 0xffff
}

extension Analysis {
    /// `dst = dst op operand`.
    func alu(_ state: inout State, _ width: Width, _ op: ALUOperation, dst: Register, _ operand: Operand, at pc: Int) {
        // Only a policy without pointer leaks looks at the inputs afterwards
        // (no array is built per step otherwise).
        guard !policy.allowsPointerLeaks else {
            aluTransfer(&state, width, op, dst: dst, operand, at: pc)
            return
        }
        var inputs: [Value] = op == .mov ? [] : [state[dst.index]]
        if case .register(let r) = operand { inputs.append(state[r.index]) }
        aluTransfer(&state, width, op, dst: dst, operand, at: pc)
        // The distance between two places in the packet (`data_end - data`)
        // is a length, not an address.
        func inPacket(_ v: Value) -> Bool {
            switch v {
            case .packet, .packetEnd: true
            default: false
            }
        }
        if op == .sub, width == .w64, inputs.count == 2, inputs.allSatisfy(inPacket) { return }
        checkNumberFromPointer(inputs, state[dst.index], at: pc)
    }

    /// Under a policy without pointer leaks: an operation on a pointer whose
    /// result is a number (the kernel's "pointer arithmetic prohibited",
    /// "pointer -= pointer prohibited", partial copies of pointers).
    func checkNumberFromPointer(_ inputs: [Value], _ result: Value, at pc: Int) {
        guard !policy.allowsPointerLeaks, !result.isPointer, let pointer = inputs.first(where: \.isPointer) else { return }
        refuse("instruction \(pc): arithmetic makes a pointer (\(pointer.summary)) a number")
    }

    private func aluTransfer(_ state: inout State, _ width: Width, _ op: ALUOperation, dst: Register, _ operand: Operand, at pc: Int) {
        let source: Value
        switch operand {
        case .register(let r): source = read(state, r, at: pc)
        case .immediate(let imm):
            source = .scalar(Scalar(constant: width == .w64 ? UInt64(bitPattern: Int64(imm)) : UInt64(UInt32(bitPattern: imm))))
        }
        if op == .mov {
            // A copy of a number that is not a constant is linked to it
            // (64-bit, or 32-bit when the number fits: then it is the same).
            if case .register(let r) = operand, case .scalar(var s) = source, !s.isConstant, width == .w64 || s.fits32 {
                if s.link == nil {
                    s.link = ScalarLink(id: state.freshID(), delta: 0)
                    state[r.index] = .scalar(s)
                }
                state[dst.index] = .scalar(s)
                return
            }
            if width == .w64 { state[dst.index] = source; return }
            state[dst.index] = .scalar(source.scalar.map(Scalar.truncated32) ?? .any32)
            return
        }
        let target = read(state, dst, at: pc)
        if case .scalar(let a) = target, case .scalar(let b) = source {
            var result = Scalar.withLength(op, width, a, b, result: Scalar.apply(op, width, a, b))
            result.link = ScalarLink.after(op, width, a, b)
            state[dst.index] = .scalar(result)
            return
        }
        guard width == .w64 else { state[dst.index] = .scalar(.any32); return }
        if environment.r2IsInputLength, let moved = offsetInput(&state, op, target, source) {
            state[dst.index] = moved
            return
        }
        switch (op, target, source) {
        case (.add, _, .scalar(let s)) where target.isPointer:
            state[dst.index] = offsetPointer(target, by: s, negate: false, in: state)
        case (.add, .scalar(let s), _) where source.isPointer:
            state[dst.index] = offsetPointer(source, by: s, negate: false, in: state)
        case (.sub, _, .scalar(let s)) where target.isPointer:
            state[dst.index] = offsetPointer(target, by: s, negate: true, in: state)
        default:
            // ptr - ptr, ptr op anything else: a number nothing is known about.
            state[dst.index] = .unknown
        }
    }

    /// `mem` programs: a pointer into the input plus a number that is not a
    /// constant (constants go through `offsetPointer`). `data + off` plus
    /// `L - off` exactly is the input's end; otherwise the number becomes
    /// the variable part of a new id, whose range is what the number's
    /// bound against L gives (`data + x + slack <= data + L`) when the
    /// pointer had no variable part. nil: not such a sum.
    func offsetInput(_ state: inout State, _ op: ALUOperation, _ target: Value, _ source: Value) -> Value? {
        let pointer: Value, s: Scalar
        switch (op, target, source) {
        case (.add, .packet, .scalar(let n)): pointer = target; s = n
        case (.add, .scalar(let n), .packet): pointer = source; s = n
        default: return nil
        }
        guard s.constant == nil, case .packet(_, let off, let v) = pointer else { return nil }
        if v == .zero, let bound = s.length, bound.exact, bound.slack == off { return .packetEnd }
        guard v.high <= LengthBound.maxLength, s.umax <= UInt64(LengthBound.maxLength - v.high) else { return .unknown }
        let w = Span(low: v.low + Int(s.umin), high: v.high + Int(s.umax))
        let id = state.freshID()
        if v == .zero, let bound = s.length, bound.slack > 0 { state.packetRanges[id] = bound.slack }
        return .packet(id: id, offset: off, variable: w)
    }

    /// `pointer ± s`: a constant moves the offset, a bounded non-negative
    /// variable added goes to the variable part (a new packet id);
    /// anything else is no longer a pointer the verifier can bound.
    func offsetPointer(_ pointer: Value, by s: Scalar, negate: Bool, in state: State) -> Value {
        if let c = s.constant {
            let delta = Int64(bitPattern: c)
            guard delta > -Int64(PointerLimits.offset), delta < Int64(PointerLimits.offset) else { return .unknown }
            let d = negate ? -Int(delta) : Int(delta)
            func moved(_ off: Int) -> Int? {
                let o = off + d
                return abs(o) < PointerLimits.offset ? o : nil
            }
            switch pointer {
            case .context(let off): return moved(off).map { .context(offset: $0) } ?? .unknown
            case .stack(let f, let off, let v): return moved(off).map { .stack(frame: f, offset: $0, variable: v) } ?? .unknown
            case .packet(let id, let off, let v): return moved(off).map { .packet(id: id, offset: $0, variable: v) } ?? .unknown
            case .region(let r, let off, let v): return moved(off).map { .region(r, offset: $0, variable: v) } ?? .unknown
            // Not before the null check (the kernel refuses arithmetic on `_or_null`).
            case .reference(let id, let off, false): return moved(off).map { .reference(id: id, offset: $0, maybeNull: false) } ?? .unknown
            default: return .unknown
            }
        }
        guard !negate, s.umax < UInt64(PointerLimits.offset) else { return .unknown }
        let low = Int(s.umin), high = Int(s.umax)
        switch pointer {
        case .stack(let f, let off, let v):
            let w = Span(low: v.low + low, high: v.high + high)
            return w.high < PointerLimits.offset ? .stack(frame: f, offset: off, variable: w) : .unknown
        case .region(let r, let off, let v):
            let w = Span(low: v.low + low, high: v.high + high)
            return w.high < PointerLimits.offset ? .region(r, offset: off, variable: w) : .unknown
        case .packet(_, let off, let v):
            let w = Span(low: v.low + low, high: v.high + high)
            return w.high <= PointerLimits.packetVariable ? .packet(id: state.freshID(), offset: off, variable: w) : .unknown
        default:
            return .unknown
        }
    }

    /// `dst = -dst`.
    func negate(_ state: inout State, _ width: Width, dst: Register, at pc: Int) {
        let value = read(state, dst, at: pc)
        checkNumberFromPointer([value], .unknown, at: pc)
        state[dst.index] = .scalar(value.scalar.map { Scalar.negate(width, $0) } ?? (width == .w64 ? .unknown : .any32))
    }

    /// `dst = (signed) src`.
    func moveSignExtend(_ state: inout State, _ width: Width, dst: Register, src: Register, bits: Int, at pc: Int) {
        let value = read(state, src, at: pc)
        checkNumberFromPointer([value], .unknown, at: pc)
        state[dst.index] = .scalar(value.scalar.map { Scalar.signExtend(width, $0, bits: bits) } ?? (width == .w64 ? .unknown : .any32))
    }

    /// Byte-order conversions.
    func byteSwap(_ state: inout State, _ kind: ByteSwapKind, dst: Register, bits: Int, at pc: Int) {
        let value = read(state, dst, at: pc)
        checkNumberFromPointer([value], .unknown, at: pc)
        state[dst.index] = .scalar(Scalar.byteSwap(kind, value.scalar ?? .unknown, bits: bits))
    }

    /// `dst = imm64`: a map handle, an address in global data, or a number.
    func loadImmediate(_ state: inout State, dst: Register, _ kind: Immediate64) {
        guard case .value(let v) = kind else {
            // Unresolved maps, variables, code addresses: nothing known (but an address).
            if !policy.allowsPointerLeaks { refuse("instruction \(state.pc - 1): a 64-bit load of an address the verifier does not follow") }
            state[dst.index] = .unknown
            return
        }
        if environment.maps[v] != nil {
            state[dst.index] = .mapHandle(v)
            return
        }
        for region in environment.dataRegions where v >= region.start && v - region.start < UInt64(region.size) {
            state[dst.index] = .region(Region(kind: .globalData, size: region.size, writable: region.writable),
                                       offset: Int(v - region.start), variable: .zero)
            return
        }
        state[dst.index] = .scalar(Scalar(constant: v))
    }
}

extension Value {
    /// Whether arithmetic on the value is pointer arithmetic.
    var isPointer: Bool {
        switch self {
        case .uninitialized, .scalar: false
        default: true
        }
    }
}

extension Scalar {
    /// A 32-bit move: the low half, zero-extended. It is never larger than
    /// the number, so a bound against the input's length stays (exact only
    /// when the number already fits).
    static func truncated32(_ s: Scalar) -> Scalar {
        if s.fits32 { return s }
        guard let bound = s.length else { return .any32 }
        return Scalar.any32.bounded(by: LengthBound(slack: bound.slack, exact: false)) ?? .any32
    }

    /// `result` (of `a op b`) with its bound against the input's length: a
    /// 64-bit addition or subtraction of a constant that cannot wrap moves
    /// the operand's bound; every other operation has none.
    static func withLength(_ op: ALUOperation, _ width: Width, _ a: Scalar, _ b: Scalar, result: Scalar) -> Scalar {
        var r = result
        r.length = nil
        guard width == .w64 else { return r }
        let x: Scalar, d: Int64
        switch op {
        case .add:
            if let c = b.constant { x = a; d = Int64(bitPattern: c) }
            else if let c = a.constant { x = b; d = Int64(bitPattern: c) }
            else { return r }
        case .sub:
            guard let c = b.constant, Int64(bitPattern: c) != .min else { return r }
            x = a; d = -Int64(bitPattern: c)
        default:
            return r
        }
        guard let bound = x.length, d.magnitude < UInt64(LengthBound.maxSlack) else { return r }
        // No member may wrap: then x + d is the integer sum and the bound moves by d.
        if d >= 0 {
            guard x.umax <= UInt64.max - UInt64(d) else { return r }
        } else {
            guard x.umin >= d.magnitude else { return r }
        }
        return r.bounded(by: LengthBound(slack: bound.slack - Int(d), exact: bound.exact)) ?? r
    }
}
