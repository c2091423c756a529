import BPFISA

/// A number as written: sign and magnitude, so that both ends of every field
/// (-2^63, 0xffffffffffffffff) are representable before the field's own
/// range check.
///
/// Immediates follow the corpus (negative/invalid_imm32_*): a decimal number
/// is a signed value of the field's width (`mov32 %r0, 2147483648` is out of
/// range), a hexadecimal one may also be the field's unsigned bit pattern
/// (`mov32 %r0, 0xffffffff` is -1, `0x100000000` is out of range).
struct WrittenNumber {
    var negative: Bool
    var magnitude: UInt64
    var isHex: Bool
    /// Set when the digits exceed 64 bits; every range check then fails.
    var overflowed: Bool
    var text: Substring

    typealias Reason = AssemblyError.Reason

    /// Parses `[+|-](decimal | 0x hex)`; nil when the text is not a number at all.
    init?(_ text: Substring) {
        self.text = text
        var digits = text
        negative = false
        if let first = digits.first, first == "+" || first == "-" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        isHex = digits.hasPrefix("0x") || digits.hasPrefix("0X")
        let radix: UInt64 = isHex ? 16 : 10
        if isHex { digits = digits.dropFirst(2) }
        guard !digits.isEmpty else { return nil }
        magnitude = 0
        overflowed = false
        for character in digits {
            guard let digit = character.hexDigitValue, UInt64(digit) < radix else { return nil }
            let (shifted, o1) = magnitude.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { overflowed = true }
            magnitude = sum
        }
    }

    /// A signed value of `bits` bits (offsets): -2^(bits-1) ... 2^(bits-1)-1.
    func signed(bits: Int, field: String) throws(Reason) -> Int64 {
        let limit = UInt64(1) << (bits - 1)
        guard !overflowed, negative ? magnitude <= limit : magnitude < limit else {
            throw .outOfRange(String(text), field: field, range: "-\(limit) to \(limit - 1)")
        }
        return negative ? 0 &- Int64(bitPattern: magnitude) : Int64(bitPattern: magnitude)
    }

    /// A 32-bit immediate: -2147483648 ... 2147483647, or in hexadecimal up to 0xffffffff.
    func imm32(field: String = "32-bit immediate") throws(Reason) -> Int32 {
        let highest: UInt64 = isHex ? 0xffff_ffff : 0x7fff_ffff
        guard !overflowed, negative ? magnitude <= 1 << 31 : magnitude <= highest else {
            throw .outOfRange(String(text), field: field, range: "-2147483648 to 2147483647, or 0x0 to 0xffffffff")
        }
        return Int32(truncatingIfNeeded: negative ? 0 &- magnitude : magnitude)
    }

    /// A 64-bit immediate: -2^63 ... 2^63-1, or in hexadecimal up to 0xffffffffffffffff.
    func imm64() throws(Reason) -> UInt64 {
        let highest: UInt64 = isHex ? .max : UInt64(Int64.max)
        guard !overflowed, negative ? magnitude <= 1 << 63 : magnitude <= highest else {
            throw .outOfRange(String(text), field: "64-bit immediate",
                              range: "-9223372036854775808 to 9223372036854775807, or 0x0 to 0xffffffffffffffff")
        }
        return negative ? 0 &- magnitude : magnitude
    }
}

/// Operand-level syntax shared by every instruction form.
enum Syntax {
    typealias Reason = AssemblyError.Reason

    static func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" }

    static func trimmed(_ s: Substring) -> Substring {
        guard let start = s.firstIndex(where: { !isSpace($0) }) else { return s[s.endIndex...] }
        let end = s.lastIndex(where: { !isSpace($0) })!
        return s[start...end]
    }

    /// Splits off the first whitespace-delimited word: (word, trimmed rest).
    static func firstWord(_ s: Substring) -> (Substring, Substring) {
        let s = trimmed(s)
        guard let space = s.firstIndex(where: isSpace) else { return (s, s[s.endIndex...]) }
        return (s[..<space], trimmed(s[space...]))
    }

    /// Whitespace-separated words of an operand (`local func1`, `map_value_fd 3 8`).
    static func words(_ s: Substring) -> [Substring] {
        s.split(whereSeparator: isSpace)
    }

    /// `%r0` ... `%r10`.
    static func register(_ s: Substring) throws(Reason) -> Register {
        guard s.hasPrefix("%r") else { throw .expectedRegister(String(s)) }
        let digits = s.dropFirst(2)
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = UInt8(digits), let register = Register(rawValue: number) else {
            throw .badRegister(String(s))
        }
        return register
    }

    static func isRegister(_ s: Substring) -> Bool { s.hasPrefix("%") }

    static func number(_ s: Substring) throws(Reason) -> WrittenNumber {
        guard let n = WrittenNumber(s) else { throw .badNumber(String(s)) }
        return n
    }

    /// `[%rN]`, `[%rN+off]`, `[%rN-off]`, spaces allowed inside; the offset is signed 16-bit.
    static func memory(_ s: Substring) throws(Reason) -> (Register, Int16) {
        guard s.hasPrefix("["), s.hasSuffix("]"), s.count >= 2 else { throw .badMemoryOperand(String(s)) }
        let inside = trimmed(s.dropFirst().dropLast())
        guard let sign = inside.firstIndex(where: { $0 == "+" || $0 == "-" }) else {
            return (try register(inside), 0)
        }
        let base = try register(trimmed(inside[..<sign]))
        let offsetText = trimmed(inside[inside.index(after: sign)...])
        guard let offset = WrittenNumber(offsetText), !offsetText.hasPrefix("+"), !offsetText.hasPrefix("-") else {
            throw .badMemoryOperand(String(s))
        }
        var signed = offset
        signed.negative = inside[sign] == "-"
        signed.text = s
        return (base, Int16(try signed.signed(bits: 16, field: "16-bit offset")))
    }

    /// Label names: a letter, `_` or `.`, then letters, digits, `_` or `.`.
    static func isLabel(_ s: Substring) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" || first == "." else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
    }
}
