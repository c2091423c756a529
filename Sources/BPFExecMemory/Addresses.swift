/// An address in executable memory: where code runs, and what call and jump
/// displacements are computed against.
///
/// A plain number rather than a pointer, so that backends can do address
/// arithmetic without touching unsafe pointers and cannot write through it.
public struct ExecutableAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt

    public init(rawValue: UInt) {
        self.rawValue = rawValue
    }

    package init(_ pointer: UnsafeRawPointer) {
        self.rawValue = UInt(bitPattern: pointer)
    }

    /// The address `offset` bytes further on (a call target, a patch site).
    public func advanced(by offset: Int) -> ExecutableAddress {
        ExecutableAddress(rawValue: UInt(bitPattern: Int(bitPattern: rawValue) &+ offset))
    }

    /// Signed distance from this address to `other`: what a relative branch
    /// placed here needs (before the architecture's own bias is applied).
    public func distance(to other: ExecutableAddress) -> Int {
        Int(bitPattern: other.rawValue &- rawValue)
    }

    /// Whether the address is a multiple of `alignment` (a power of two).
    public func isAligned(to alignment: Int) -> Bool {
        rawValue & UInt(alignment - 1) == 0
    }

    /// Reinterprets the code at this address as a function of type `Function`
    /// (a `@convention(c)` function type). Unsafe: nothing checks that code
    /// with that calling convention was copied here, or that it stays live
    /// for as long as the function is called.
    public func unsafeFunction<Function>(as type: Function.Type) -> Function {
        precondition(
            MemoryLayout<Function>.size == MemoryLayout<UInt>.size,
            "unsafeFunction(as:) needs a @convention(c) function type"
        )
        return unsafeBitCast(rawValue, to: Function.self)
    }

    public static func < (lhs: ExecutableAddress, rhs: ExecutableAddress) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String {
        "0x" + String(rawValue, radix: 16)
    }
}

/// Room for one JITed image, handed out by `ProgramPack.allocate`.
///
/// `address` is final: it is where the image will run, so a backend computes
/// every displacement against it before a single byte is copied in.
public struct PackSlot: Hashable, Sendable, CustomStringConvertible {
    /// First byte of the image; aligned as asked.
    public let address: ExecutableAddress
    /// Bytes reserved for the image (exactly what `allocate` was asked for).
    public let size: Int
    /// Distinguishes this allocation from every other the pack ever made, so a
    /// stale slot is recognised even when its memory has been handed out again.
    let serial: UInt64

    init(address: ExecutableAddress, size: Int, serial: UInt64) {
        self.address = address
        self.size = size
        self.serial = serial
    }

    /// One past the last byte of the image.
    public var endAddress: ExecutableAddress {
        address.advanced(by: size)
    }

    /// The address of byte `offset` of the image (a call or patch site).
    public func address(at offset: Int) -> ExecutableAddress {
        address.advanced(by: offset)
    }

    public var description: String {
        "\(size) bytes at \(address)"
    }
}
