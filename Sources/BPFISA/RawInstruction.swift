/// Byte order of the 8-byte wire form.
///
/// Little-endian hosts (x86-64, arm64, MIPS32 LE) and big-endian ones (MIPS32 BE)
/// store `offset` and `imm` in their own order, and swap the two register nibbles:
/// the kernel's `struct bpf_insn` declares `dst_reg:4, src_reg:4` as bitfields,
/// which a big-endian compiler places high-nibble first.
public enum ByteOrder: Sendable, Hashable {
    case little, big

    /// The order of the machine BPFKit runs on.
    public static var host: ByteOrder {
        UInt16(littleEndian: 1) == 1 ? .little : .big
    }

    /// The other order.
    public var opposite: ByteOrder { self == .little ? .big : .little }
}

/// The 8-byte wire form of one instruction slot, fields as they are encoded.
public struct RawInstruction: Sendable, Hashable, CustomStringConvertible {
    public var opcode: UInt8
    /// Destination register number, 0–15 as encoded (only 0–10 are registers).
    public var dst: UInt8
    /// Source register number, 0–15 as encoded.
    public var src: UInt8
    public var offset: Int16
    public var imm: Int32

    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, imm: Int32 = 0) {
        self.opcode = opcode
        self.dst = dst & 0x0f
        self.src = src & 0x0f
        self.offset = offset
        self.imm = imm
    }

    /// Decodes one slot from exactly eight bytes.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes, byteOrder: ByteOrder = .little) {
        precondition(bytes.count == 8, "an instruction slot is 8 bytes")
        let b = Array(bytes)
        opcode = b[0]
        switch byteOrder {
        case .little:
            dst = b[1] & 0x0f
            src = b[1] >> 4
            offset = Int16(bitPattern: UInt16(b[2]) | UInt16(b[3]) << 8)
            imm = Int32(bitPattern: UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24)
        case .big:
            dst = b[1] >> 4
            src = b[1] & 0x0f
            offset = Int16(bitPattern: UInt16(b[2]) << 8 | UInt16(b[3]))
            imm = Int32(bitPattern: UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7]))
        }
    }

    /// The eight bytes of this slot.
    public func bytes(_ byteOrder: ByteOrder = .little) -> [UInt8] {
        let o = UInt16(bitPattern: offset), i = UInt32(bitPattern: imm)
        switch byteOrder {
        case .little:
            return [opcode, dst | src << 4, UInt8(o & 0xff), UInt8(o >> 8),
                    UInt8(i & 0xff), UInt8(i >> 8 & 0xff), UInt8(i >> 16 & 0xff), UInt8(i >> 24)]
        case .big:
            return [opcode, dst << 4 | src, UInt8(o >> 8), UInt8(o & 0xff),
                    UInt8(i >> 24), UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)]
        }
    }

    /// The slot as the 64-bit little-endian word the conformance corpus writes (`0x...18`).
    public var word: UInt64 {
        bytes(.little).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    public var description: String {
        let hex = bytes().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        return hex
    }
}
