import BPFISA

/// A set of 64-bit numbers: an unsigned range and a signed range, kept
/// consistent (every member lies in both). Constants are ranges of one value.
struct Scalar: Hashable, Sendable {
    var umin: UInt64, umax: UInt64
    var smin: Int64, smax: Int64
    /// For `mem` programs: what every member is known to be against the
    /// input's length L (r2 at entry), or nil. Only the transfer functions
    /// that keep it true set it (`LengthBound`); every other result drops it.
    var length: LengthBound? = nil
    /// Which other registers hold this same number moved by a constant
    /// (`rX = rY`, then `rX += k`), or nil; see `ScalarLink`. Inclusion
    /// (`isSubset`) ignores it: `State.isIncluded` matches links itself.
    var link: ScalarLink? = nil

    static let unknown = Scalar(umin: 0, umax: .max, smin: .min, smax: .max)
    /// Any zero-extended 32-bit value.
    static let any32 = Scalar(unsigned: 0, UInt64(UInt32.max))

    init(umin: UInt64, umax: UInt64, smin: Int64, smax: Int64) {
        self.umin = umin; self.umax = umax; self.smin = smin; self.smax = smax
    }

    init(constant value: UInt64) {
        self.init(umin: value, umax: value, smin: Int64(bitPattern: value), smax: Int64(bitPattern: value))
    }

    /// `[low, high]` unsigned; the signed range follows.
    init(unsigned low: UInt64, _ high: UInt64) {
        self = Scalar(umin: low, umax: high, smin: .min, smax: .max).normalized() ?? .unknown
    }

    /// `[low, high]` signed; the unsigned range follows.
    init(signed low: Int64, _ high: Int64) {
        self = Scalar(umin: 0, umax: .max, smin: low, smax: high).normalized() ?? .unknown
    }

    var isConstant: Bool { umin == umax }
    var constant: UInt64? { umin == umax ? umin : nil }
    var isUnknown: Bool { self == .unknown }
    /// Whether every member is a zero-extended 32-bit value.
    var fits32: Bool { umax <= UInt64(UInt32.max) }

    /// Tightens each range by the other (the kernel's `reg_bounds_sync`);
    /// nil when no number satisfies both.
    func normalized() -> Scalar? {
        var s = self
        guard s.umin <= s.umax, s.smin <= s.smax else { return nil }
        // A signed range on one side of zero is an unsigned range too.
        if s.smin >= 0 || s.smax < 0 {
            s.umin = max(s.umin, UInt64(bitPattern: s.smin))
            s.umax = min(s.umax, UInt64(bitPattern: s.smax))
        }
        // An unsigned range on one side of 2^63 is a signed range too.
        if Int64(bitPattern: s.umin) <= Int64(bitPattern: s.umax), (s.umax >> 63) == (s.umin >> 63) {
            s.smin = max(s.smin, Int64(bitPattern: s.umin))
            s.smax = min(s.smax, Int64(bitPattern: s.umax))
        }
        guard s.umin <= s.umax, s.smin <= s.smax else { return nil }
        // Once more: the signed range may now sit on one side of zero.
        if s.smin >= 0 || s.smax < 0 {
            s.umin = max(s.umin, UInt64(bitPattern: s.smin))
            s.umax = min(s.umax, UInt64(bitPattern: s.smax))
        }
        guard s.umin <= s.umax, s.smin <= s.smax else { return nil }
        return s
    }

    /// The members of both, or nil.
    func intersection(_ other: Scalar) -> Scalar? {
        Scalar(umin: max(umin, other.umin), umax: min(umax, other.umax),
               smin: max(smin, other.smin), smax: min(smax, other.smax)).normalized()
    }

    /// Whether every member of `self` is a member of `other`.
    func isSubset(of other: Scalar) -> Bool {
        umin >= other.umin && umax <= other.umax && smin >= other.smin && smax <= other.smax
            && LengthBound.includes(length, in: other.length)
    }

    /// The low 32 bits of every member, as zero-extended values.
    var low32: Scalar { fits32 ? self : .any32 }

    /// The range of a zero-extending load of `bytes` bytes.
    static func loaded(bytes: Int) -> Scalar {
        bytes >= 8 ? .unknown : Scalar(unsigned: 0, (UInt64(1) << UInt64(8 * bytes)) - 1)
    }

    /// The range of a sign-extending load (or move) of `bytes` bytes.
    static func signExtended(bytes: Int) -> Scalar {
        let half = Int64(1) << Int64(8 * bytes - 1)
        return Scalar(signed: -half, half - 1)
    }

    /// Number of significant bits of `value` (0 for 0).
    static func bitLength(_ value: UInt64) -> UInt64 { UInt64(64 - value.leadingZeroBitCount) }

    /// All-ones up to the highest bit `value` has: a bound for `|` and `^`.
    static func ceilingMask(_ value: UInt64) -> UInt64 {
        let bits = bitLength(value)
        return bits >= 64 ? .max : (UInt64(1) << bits) - 1
    }
}

/// Registers holding one run-time number moved by constants (the kernel's
/// scalar ids with `BPF_ADD_CONST`): every scalar with link `id` is
/// `base + delta` (mod 2^64) for one `base` shared by all of them. Made by
/// a 64-bit copy of a number that is not a constant (both get the id, the
/// source a fresh one if it had none; a 32-bit copy of a number that fits
/// too), moved by 64-bit additions and subtractions of constants, and
/// broken by every other write (a new value has no link). A bound a branch
/// learns on one is carried to the others shifted by the difference of
/// their deltas (`Analysis.syncLinks`, the kernel's `sync_linked_regs`).
struct ScalarLink: Hashable, Sendable {
    var id: Int
    var delta: Int64
    /// Deltas stay below 2^31 in magnitude (as the kernel's 32-bit `off`).
    static let maxDelta: Int64 = 1 << 31

    /// The link of `a op b` for `a` linked: the same id, the delta moved by
    /// a 64-bit addition or subtraction of a constant; nil otherwise.
    static func after(_ op: ALUOperation, _ width: Width, _ a: Scalar, _ b: Scalar) -> ScalarLink? {
        guard width == .w64, let link = a.link, let c = b.constant, op == .add || op == .sub else { return nil }
        let k = Int64(bitPattern: c)
        guard k > -maxDelta, k < maxDelta else { return nil }
        let delta = link.delta + (op == .add ? k : -k)
        guard delta > -maxDelta, delta < maxDelta else { return nil }
        return ScalarLink(id: link.id, delta: delta)
    }
}

/// `value + slack <= L` (`exact`: `==`), where L is the length of a `mem`
/// program's input: the number of bytes at r1 at entry, which r2 holds
/// then. Learned from unsigned comparisons with a number that has one (r2
/// itself is `exact` with slack 0 at entry) and moved by the additions and
/// subtractions of constants that cannot wrap.
struct LengthBound: Hashable, Sendable {
    var slack: Int
    var exact: Bool

    /// No buffer a run is given is this long (the largest address spaces
    /// are 57 bits), so `value + slack <= L` bounds the value by it too.
    static let maxLength = 1 << 62
    /// Slacks are kept small so that no sum of them wraps.
    static let maxSlack = 1 << 40

    /// Whether a number with bound `new` is one with bound `old`.
    static func includes(_ new: LengthBound?, in old: LengthBound?) -> Bool {
        guard let old else { return true }
        guard let new else { return false }
        return old.exact ? new == old : new.slack >= old.slack
    }

    /// What both bounds say (nil: nothing), for a number that may hold either.
    static func weaker(_ a: LengthBound?, _ b: LengthBound?) -> LengthBound? {
        guard let a, let b else { return nil }
        if a == b { return a }
        return LengthBound(slack: min(a.slack, b.slack), exact: false)
    }

    /// What both bounds say together, for a number that has both.
    static func stronger(_ a: LengthBound?, _ b: LengthBound?) -> LengthBound? {
        guard let a else { return b }
        guard let b else { return a }
        if a.exact { return a }
        if b.exact { return b }
        return a.slack >= b.slack ? a : b
    }
}

extension Scalar {
    /// The number that is `known + k` (mod 2^64), intersected with what
    /// `other` (a register linked to `known`'s) already says of it; keeps
    /// `other`'s link.
    static func shifted(_ known: Scalar, by k: Int64, into other: Scalar) -> Scalar {
        let c = Scalar(constant: UInt64(bitPattern: k))
        let moved = withLength(.add, .w64, known, c, result: apply(.add, .w64, known, c))
        var result = moved
        if let both = moved.intersection(other), let bounded = both.bounded(by: LengthBound.stronger(moved.length, other.length)) {
            result = bounded
        }
        result.link = other.link
        return result
    }

    /// The scalar with `bound` attached and its unsigned maximum tightened by
    /// it (`value <= L - slack <= maxLength - slack`); nil when no member fits.
    func bounded(by bound: LengthBound?) -> Scalar? {
        guard let bound = LengthBound.stronger(length, bound), abs(bound.slack) <= LengthBound.maxSlack else {
            var s = self
            s.length = nil
            return s
        }
        var s = self
        s.length = bound
        let limit = UInt64(LengthBound.maxLength - bound.slack)
        if s.umax > limit {
            s.umax = limit
            guard let n = s.normalized() else { return nil }
            s = n
        }
        return s
    }
}
