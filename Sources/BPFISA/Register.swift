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

    @inlinable public static var r0: Register { Register(unchecked: 0) }
    @inlinable public static var r1: Register { Register(unchecked: 1) }
    @inlinable public static var r2: Register { Register(unchecked: 2) }
    @inlinable public static var r3: Register { Register(unchecked: 3) }
    @inlinable public static var r4: Register { Register(unchecked: 4) }
    @inlinable public static var r5: Register { Register(unchecked: 5) }
    @inlinable public static var r6: Register { Register(unchecked: 6) }
    @inlinable public static var r7: Register { Register(unchecked: 7) }
    @inlinable public static var r8: Register { Register(unchecked: 8) }
    @inlinable public static var r9: Register { Register(unchecked: 9) }
    /// The frame pointer: read-only, points just past the top of the stack frame.
    @inlinable public static var r10: Register { Register(unchecked: 10) }

    /// All registers in number order.
    public static let all: [Register] = (0...10).map { Register(unchecked: UInt8($0)) }

    /// Constants, not globals: engines compare against them in their hot
    /// loops, where a global's lazy initialisation check would cost a call.
    @usableFromInline init(unchecked value: UInt8) { rawValue = value }

    /// Register number as an array index.
    @inlinable public var index: Int { Int(rawValue) }

    public var description: String { "r\(rawValue)" }

    public static func < (lhs: Register, rhs: Register) -> Bool { lhs.rawValue < rhs.rawValue }
}
