/// The arithmetic of RFC 9669 where it differs from what the host's
/// instructions (or Swift's trapping operators) would do. Everything here
/// is total: no input traps the host.
enum Semantics {
    /// Low 32 bits of a register.
    @inline(__always) static func low(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }
    /// Low 32 bits read as signed.
    @inline(__always) static func signedLow(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: v) }
    @inline(__always) static func signed(_ v: UInt64) -> Int64 { Int64(bitPattern: v) }

    // MARK: Division and modulo (section 4.1): "dst / 0 = 0", "dst % 0 = dst"

    @inline(__always) static func div64(_ a: UInt64, _ b: UInt64) -> UInt64 { b == 0 ? 0 : a / b }
    @inline(__always) static func div32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = low(a), y = low(b)
        return y == 0 ? 0 : UInt64(x / y)
    }
    @inline(__always) static func mod64(_ a: UInt64, _ b: UInt64) -> UInt64 { b == 0 ? a : a % b }
    /// A 32-bit modulo by zero leaves the low 32 bits of the dividend, zero-extended.
    @inline(__always) static func mod32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = low(a), y = low(b)
        return UInt64(y == 0 ? x : x % y)
    }

    /// Signed division truncates toward zero; `INT_MIN / -1` is `INT_MIN`
    /// (the negation wraps), which the host's divide instruction would trap on.
    @inline(__always) static func sdiv64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = signed(a), y = signed(b)
        if y == 0 { return 0 }
        if y == -1 { return 0 &- a }
        return UInt64(bitPattern: x / y)
    }
    @inline(__always) static func sdiv32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = signedLow(a), y = signedLow(b)
        if y == 0 { return 0 }
        if y == -1 { return UInt64(0 &- low(a)) }
        return UInt64(UInt32(bitPattern: x / y))
    }
    /// Signed modulo takes the sign of the dividend; `INT_MIN % -1` is 0.
    @inline(__always) static func smod64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = signed(a), y = signed(b)
        if y == 0 { return a }
        if y == -1 { return 0 }
        return UInt64(bitPattern: x % y)
    }
    @inline(__always) static func smod32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = signedLow(a), y = signedLow(b)
        if y == 0 { return UInt64(low(a)) }
        if y == -1 { return 0 }
        return UInt64(UInt32(bitPattern: x % y))
    }

    // MARK: Shifts (section 4.1): the amount is masked to the width

    // Swift's masking shifts (`&<<`, `&>>`) mask by bit width minus one,
    // exactly the `& 63` / `& 31` of the RFC.
    @inline(__always) static func lsh64(_ a: UInt64, _ b: UInt64) -> UInt64 { a &<< b }
    @inline(__always) static func rsh64(_ a: UInt64, _ b: UInt64) -> UInt64 { a &>> b }
    @inline(__always) static func arsh64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        UInt64(bitPattern: signed(a) &>> Int64(bitPattern: b & 63))
    }
    @inline(__always) static func lsh32(_ a: UInt64, _ b: UInt64) -> UInt64 { UInt64(low(a) &<< low(b)) }
    @inline(__always) static func rsh32(_ a: UInt64, _ b: UInt64) -> UInt64 { UInt64(low(a) &>> low(b)) }
    @inline(__always) static func arsh32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        UInt64(UInt32(bitPattern: signedLow(a) &>> Int32(bitPattern: low(b) & 31)))
    }

    // MARK: Sign extension (MOVSX, section 4.1; LDXS, section 5.2)

    @inline(__always) static func extend64<T: FixedWidthInteger & SignedInteger>(_: T.Type, _ v: UInt64) -> UInt64 {
        UInt64(bitPattern: Int64(T(truncatingIfNeeded: v)))
    }
    /// Sign-extends to 32 bits, then zero-extends into the register (MOVSX of the ALU class).
    @inline(__always) static func extend32<T: FixedWidthInteger & SignedInteger>(_: T.Type, _ v: UInt64) -> UInt64 {
        UInt64(UInt32(bitPattern: Int32(T(truncatingIfNeeded: v))))
    }
}
