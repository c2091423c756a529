import BPFISA

/// Transfer functions of the arithmetic on `Scalar`s. Each returns a set
/// holding every result the operation can give on members of its operands;
/// where a bound is not obvious the answer is the whole range.
extension Scalar {
    /// `a op b` for 64-bit (`.w64`) or 32-bit (`.w32`, zero-extended) operations.
    static func apply(_ op: ALUOperation, _ width: Width, _ a: Scalar, _ b: Scalar) -> Scalar {
        if let x = a.constant, let y = b.constant {
            return Scalar(constant: evaluate(op, width, x, y))
        }
        if width == .w32 {
            // Compute on the low halves; keep the result when no 32-bit wrap can have happened.
            let x = a.low32, y = b.low32
            switch op {
            case .add, .sub, .mul, .or, .and, .xor, .div, .mod, .mov:
                let r = apply64(op, x, y)
                return r.fits32 ? r : .any32
            case .lsh:
                guard let k = y.constant else { return .any32 }
                let r = apply64(.lsh, x, Scalar(constant: k & 31))
                return r.fits32 ? r : .any32
            case .rsh:
                guard let k = y.constant else { return Scalar(unsigned: 0, x.umax) }
                return apply64(.rsh, x, Scalar(constant: k & 31))
            case .arsh:
                // Non-negative as a 32-bit signed number: the same as rsh.
                guard x.umax <= UInt64(Int32.max) else { return .any32 }
                guard let k = y.constant else { return Scalar(unsigned: 0, x.umax) }
                return apply64(.rsh, x, Scalar(constant: k & 31))
            case .sdiv, .smod:
                return .any32
            }
        }
        return apply64(op, a, b)
    }

    private static func apply64(_ op: ALUOperation, _ a: Scalar, _ b: Scalar) -> Scalar {
        if let x = a.constant, let y = b.constant { return Scalar(constant: evaluate(op, .w64, x, y)) }
        switch op {
        case .mov:
            return b
        case .add:
            var r = Scalar.unknown
            let (hi, o1) = a.umax.addingReportingOverflow(b.umax)
            if !o1 { r.umin = a.umin + b.umin; r.umax = hi }
            let (slo, o2) = a.smin.addingReportingOverflow(b.smin)
            let (shi, o3) = a.smax.addingReportingOverflow(b.smax)
            if !o2 && !o3 { r.smin = slo; r.smax = shi }
            return r.normalized() ?? .unknown
        case .sub:
            var r = Scalar.unknown
            if a.umin >= b.umax { r.umin = a.umin - b.umax; r.umax = a.umax - b.umin }
            let (slo, o1) = a.smin.subtractingReportingOverflow(b.smax)
            let (shi, o2) = a.smax.subtractingReportingOverflow(b.smin)
            if !o1 && !o2 { r.smin = slo; r.smax = shi }
            return r.normalized() ?? .unknown
        case .mul:
            let (hi, o) = a.umax.multipliedReportingOverflow(by: b.umax)
            guard !o else { return .unknown }
            return Scalar(unsigned: a.umin &* b.umin, hi)
        case .and:
            return Scalar(unsigned: 0, min(a.umax, b.umax))
        case .or:
            return Scalar(unsigned: max(a.umin, b.umin), ceilingMask(max(a.umax, b.umax)))
        case .xor:
            return Scalar(unsigned: 0, ceilingMask(max(a.umax, b.umax)))
        case .lsh:
            guard let k = b.constant.map({ $0 & 63 }) else { return .unknown }
            guard a.umax <= (UInt64.max >> k) else { return .unknown }
            return Scalar(unsigned: a.umin << k, a.umax << k)
        case .rsh:
            guard let k = b.constant.map({ $0 & 63 }) else { return Scalar(unsigned: 0, a.umax) }
            return Scalar(unsigned: a.umin >> k, a.umax >> k)
        case .arsh:
            guard let k = b.constant.map({ $0 & 63 }) else {
                // Any shift keeps the sign and moves toward zero.
                return Scalar(signed: min(a.smin, 0), max(a.smax, 0))
            }
            return Scalar(signed: a.smin >> Int64(k), a.smax >> Int64(k))
        case .div:
            // x / 0 = 0 and x / y <= x.
            if let y = b.constant, y != 0 { return Scalar(unsigned: a.umin / y, a.umax / y) }
            return Scalar(unsigned: 0, a.umax)
        case .mod:
            // x % 0 = x and x % y <= x, < y.
            if let y = b.constant, y != 0 { return Scalar(unsigned: 0, min(a.umax, y - 1)) }
            return Scalar(unsigned: 0, a.umax)
        case .sdiv, .smod:
            return .unknown
        }
    }

    /// `-a`.
    static func negate(_ width: Width, _ a: Scalar) -> Scalar {
        if let x = a.constant { return Scalar(constant: width == .w64 ? 0 &- x : UInt64(0 &- UInt32(truncatingIfNeeded: x))) }
        return width == .w64 ? .unknown : .any32
    }

    /// MOVSX: the low `bits` of `a`, sign-extended to 64 bits (then zero-extended from 32 for `.w32`).
    static func signExtend(_ width: Width, _ a: Scalar, bits: Int) -> Scalar {
        if let x = a.constant {
            let v: Int64
            switch bits {
            case 8: v = Int64(Int8(truncatingIfNeeded: x))
            case 16: v = Int64(Int16(truncatingIfNeeded: x))
            default: v = Int64(Int32(truncatingIfNeeded: x))
            }
            return Scalar(constant: width == .w64 ? UInt64(bitPattern: v) : UInt64(UInt32(truncatingIfNeeded: v)))
        }
        // Small non-negative values are unchanged.
        if a.umax < (UInt64(1) << UInt64(bits - 1)) { return a }
        return width == .w64 ? .signExtended(bytes: bits / 8) : .any32
    }

    /// A byte-order conversion of the low `bits`: converting to the host's
    /// own order truncates, anything else reverses the bytes.
    static func byteSwap(_ kind: ByteSwapKind, _ a: Scalar, bits: Int) -> Scalar {
        let mask: UInt64 = bits >= 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let reverses = kind == .swap || (kind == .toLittleEndian) == (ByteOrder.host == .big)
        if !reverses {
            return a.umax <= mask ? a : Scalar(unsigned: 0, mask)
        }
        if let x = a.constant {
            switch bits {
            case 16: return Scalar(constant: UInt64(UInt16(truncatingIfNeeded: x).byteSwapped))
            case 32: return Scalar(constant: UInt64(UInt32(truncatingIfNeeded: x).byteSwapped))
            default: return Scalar(constant: x.byteSwapped)
            }
        }
        return Scalar(unsigned: 0, mask)
    }

    /// The exact result of `x op y` (RFC 9669), for constants.
    static func evaluate(_ op: ALUOperation, _ width: Width, _ x: UInt64, _ y: UInt64) -> UInt64 {
        if width == .w32 {
            let a = UInt32(truncatingIfNeeded: x), b = UInt32(truncatingIfNeeded: y)
            let sa = Int32(bitPattern: a), sb = Int32(bitPattern: b)
            let r: UInt32
            switch op {
            case .add: r = a &+ b
            case .sub: r = a &- b
            case .mul: r = a &* b
            case .div: r = b == 0 ? 0 : a / b
            case .mod: r = b == 0 ? a : a % b
            case .sdiv: r = sb == 0 ? 0 : (sb == -1 ? 0 &- a : UInt32(bitPattern: sa / sb))
            case .smod: r = sb == 0 ? a : (sb == -1 ? 0 : UInt32(bitPattern: sa % sb))
            case .or: r = a | b
            case .and: r = a & b
            case .xor: r = a ^ b
            case .lsh: r = a << (b & 31)
            case .rsh: r = a >> (b & 31)
            case .arsh: r = UInt32(bitPattern: sa >> Int32(b & 31))
            case .mov: r = b
            }
            return UInt64(r)
        }
        let sx = Int64(bitPattern: x), sy = Int64(bitPattern: y)
        switch op {
        case .add: return x &+ y
        case .sub: return x &- y
        case .mul: return x &* y
        case .div: return y == 0 ? 0 : x / y
        case .mod: return y == 0 ? x : x % y
        case .sdiv: return sy == 0 ? 0 : (sy == -1 ? 0 &- x : UInt64(bitPattern: sx / sy))
        case .smod: return sy == 0 ? x : (sy == -1 ? 0 : UInt64(bitPattern: sx % sy))
        case .or: return x | y
        case .and: return x & y
        case .xor: return x ^ y
        case .lsh: return x << (y & 63)
        case .rsh: return x >> (y & 63)
        case .arsh: return UInt64(bitPattern: sx >> Int64(y & 63))
        case .mov: return y
        }
    }
}
