import BPFISA

/// Bounds-checked reads of integers in a given byte order from a byte array.
///
/// Every ELF and BTF field goes through here, so a truncated or corrupted
/// file yields `ELFError.truncated` naming the field instead of a trap.
struct ByteReader {
    let bytes: [UInt8]
    let byteOrder: ByteOrder
    /// Reads are confined to `base ..< limit` (a section, or the whole file).
    let base: Int
    let limit: Int

    init(_ bytes: [UInt8], byteOrder: ByteOrder, base: Int = 0, limit: Int? = nil) {
        self.bytes = bytes
        self.byteOrder = byteOrder
        self.base = base
        self.limit = limit ?? bytes.count
    }

    /// A reader over `count` bytes at `offset` (relative to this reader).
    func slice(at offset: Int, count: Int, what: String) throws(ELFError) -> ByteReader {
        try check(offset, count, what)
        return ByteReader(bytes, byteOrder: byteOrder, base: base + offset, limit: base + offset + count)
    }

    var count: Int { limit - base }

    func check(_ offset: Int, _ size: Int, _ what: String) throws(ELFError) {
        guard offset >= 0, size >= 0, offset <= count, size <= count - offset else {
            throw .truncated(what: what, offset: base + max(offset, 0), needed: size, available: limit)
        }
    }

    func u8(_ offset: Int, _ what: String) throws(ELFError) -> UInt8 {
        try check(offset, 1, what)
        return bytes[base + offset]
    }

    func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, _ offset: Int, _ what: String) throws(ELFError) -> T {
        let size = MemoryLayout<T>.size
        try check(offset, size, what)
        var value: T = 0
        for i in 0..<size {
            let byte = T(bytes[base + offset + i])
            value |= byteOrder == .little ? byte << (8 * i) : byte << (8 * (size - 1 - i))
        }
        return value
    }

    func u16(_ offset: Int, _ what: String) throws(ELFError) -> UInt16 { try integer(UInt16.self, offset, what) }
    func u32(_ offset: Int, _ what: String) throws(ELFError) -> UInt32 { try integer(UInt32.self, offset, what) }
    func u64(_ offset: Int, _ what: String) throws(ELFError) -> UInt64 { try integer(UInt64.self, offset, what) }

    /// A `UInt64` file offset or size as an `Int`, refusing values past the file.
    func offset(_ at: Int, _ what: String) throws(ELFError) -> Int {
        let value = try u64(at, what)
        guard value <= UInt64(Int32.max) else {
            throw .truncated(what: what, offset: Int(Int32.max), needed: 0, available: bytes.count)
        }
        return Int(value)
    }

    /// The bytes `offset ..< offset + count`.
    func array(_ offset: Int, _ count: Int, _ what: String) throws(ELFError) -> [UInt8] {
        try check(offset, count, what)
        return Array(bytes[base + offset ..< base + offset + count])
    }

    /// A NUL-terminated string starting at `offset`.
    func string(_ offset: Int, _ what: String) throws(ELFError) -> String {
        try check(offset, 0, what)
        var end = base + offset
        while end < limit, bytes[end] != 0 { end += 1 }
        guard end < limit else {
            throw .truncated(what: "\(what) (unterminated string)", offset: base + offset, needed: end - base - offset + 1, available: limit)
        }
        return String(decoding: bytes[base + offset ..< end], as: UTF8.self)
    }
}
