/// A set of 64-bit numbers: an unsigned range and a signed range, kept
/// consistent (every member lies in both). Constants are ranges of one value.
struct Scalar: Hashable, Sendable {
    var umin: UInt64, umax: UInt64
    var smin: Int64, smax: Int64

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
