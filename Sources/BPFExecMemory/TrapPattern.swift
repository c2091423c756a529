/// The instruction that fills every byte of executable memory that holds no
/// live code: slack around images, freed images, the unused rest of a chunk.
///
/// A stray jump into such memory traps at once instead of running leftovers
/// (the kernel fills with `int3` for the same reason). Each backend brings
/// its own; a pack is created for exactly one.
public struct TrapPattern: Hashable, Sendable, CustomStringConvertible {
    /// The encoding of one trap instruction, in memory order.
    public let bytes: [UInt8]
    /// A short name for statistics, e.g. "int3".
    public let name: String

    /// `bytes` is one instruction; its width must be a power of two from 1 to
    /// 16, so that copies of it tile units (64 bytes) and pages exactly and
    /// always start on an instruction boundary.
    public init(bytes: [UInt8], name: String) throws(ExecMemoryError) {
        let width = bytes.count
        guard width > 0, width <= 16, width & (width - 1) == 0 else {
            throw .invalidTrapPattern(width: width)
        }
        self.bytes = bytes
        self.name = name
    }

    private init(uncheckedBytes bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }

    /// x86-64 `int3` (Intel SDM vol. 2A, "INT n/INTO/INT3/INT1"): one byte, so
    /// it traps at whatever byte a wild jump lands on.
    public static let x86_64 = TrapPattern(uncheckedBytes: [0xCC], name: "int3")

    /// AArch64 `brk #0` (Arm ARM C6.2.38), 0xd4200000 stored little-endian.
    public static let arm64 = TrapPattern(uncheckedBytes: [0x00, 0x00, 0x20, 0xD4], name: "brk #0")

    /// The trap of the machine this code runs on.
    public static var host: TrapPattern {
        #if arch(arm64)
        return .arm64
        #else
        return .x86_64
        #endif
    }

    /// Width of one trap instruction in bytes.
    public var instructionWidth: Int {
        bytes.count
    }

    /// The trap byte that belongs at byte offset `offset` of a page-aligned
    /// mapping, keeping the pattern in phase with instruction boundaries.
    func byte(atOffset offset: Int) -> UInt8 {
        bytes[offset & (bytes.count - 1)]
    }

    /// Fills `buffer`, whose first byte lies at `offset` within a page-aligned
    /// mapping, with the pattern in phase.
    func fill(_ buffer: UnsafeMutableRawBufferPointer, startingAtOffset offset: Int) {
        if bytes.count == 1 {
            buffer.initializeMemory(as: UInt8.self, repeating: bytes[0])
            return
        }
        for index in buffer.indices {
            buffer[index] = byte(atOffset: offset + index)
        }
    }

    public var description: String {
        name + " (" + bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ") + ")"
    }
}
