/// One of the eleven eBPF registers (RFC 9669, section 2.4).
///
/// r0 holds return values, r1–r5 carry call arguments, r6–r9 are callee-saved,
/// and r10 is the read-only frame pointer. The wire format has four bits per
/// register field; values 11–15 are not registers and are rejected on decode.
public struct Register: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    /// Fails for numbers outside 0...10.
    public init?(rawValue: UInt8) {
        guard rawValue <= 10 else { return nil }
        self.rawValue = rawValue
    }

    public static let r0 = Register(unchecked: 0)
    public static let r1 = Register(unchecked: 1)
    public static let r2 = Register(unchecked: 2)
    public static let r3 = Register(unchecked: 3)
    public static let r4 = Register(unchecked: 4)
    public static let r5 = Register(unchecked: 5)
    public static let r6 = Register(unchecked: 6)
    public static let r7 = Register(unchecked: 7)
    public static let r8 = Register(unchecked: 8)
    public static let r9 = Register(unchecked: 9)
    /// The frame pointer: read-only, points just past the top of the stack frame.
    public static let r10 = Register(unchecked: 10)

    /// All registers in number order.
    public static let all: [Register] = (0...10).map { Register(unchecked: UInt8($0)) }

    private init(unchecked value: UInt8) { rawValue = value }

    /// Register number as an array index.
    @inlinable public var index: Int { Int(rawValue) }

    public var description: String { "r\(rawValue)" }

    public static func < (lhs: Register, rhs: Register) -> Bool { lhs.rawValue < rhs.rawValue }
}
