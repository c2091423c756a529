/// Checked access to the program's memory for helpers and hosts.
///
/// Every read and write is checked against the run's regions first; the raw
/// pointer work stays in this one type.
public struct MemoryAccess: Sendable {
    public let regions: MemoryRegions

    public init(regions: MemoryRegions) { self.regions = regions }

    private func check(_ address: UInt64, _ count: Int, write: Bool) throws(HelperError) {
        guard count >= 0, regions.permits(address, size: count, write: write) else {
            throw HelperError("\(write ? "write" : "read") of \(count) bytes at 0x\(String(address, radix: 16)) is outside the program's memory")
        }
    }

    /// Copies `count` bytes out of program memory.
    public func read(at address: UInt64, count: Int) throws(HelperError) -> [UInt8] {
        try check(address, count, write: false)
        guard count > 0, let base = UnsafeRawPointer(bitPattern: UInt(address)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Copies bytes into program memory.
    public func write(_ bytes: [UInt8], at address: UInt64) throws(HelperError) {
        try check(address, bytes.count, write: true)
        guard !bytes.isEmpty, let base = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { return }
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// Reads a little- or host-endian integer.
    public func load<T: FixedWidthInteger>(_: T.Type, at address: UInt64) throws(HelperError) -> T {
        try check(address, MemoryLayout<T>.size, write: false)
        return UnsafeRawPointer(bitPattern: UInt(address))!.loadUnaligned(as: T.self)
    }

    /// Writes an integer in host order.
    public func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) throws(HelperError) {
        try check(address, MemoryLayout<T>.size, write: true)
        UnsafeMutableRawPointer(bitPattern: UInt(address))!.storeBytes(of: value, toByteOffset: 0, as: T.self)
    }

    /// Gives checked, temporary raw access to a range, for helpers that must not copy
    /// (map lookups hashing a key in place). The buffer must not escape `body`.
    public func withBytes<R>(at address: UInt64, count: Int, write: Bool,
                             _ body: (UnsafeMutableRawBufferPointer) throws(HelperError) -> R) throws(HelperError) -> R {
        try check(address, count, write: write)
        let base = UnsafeMutableRawPointer(bitPattern: UInt(address))
        return try body(UnsafeMutableRawBufferPointer(start: count == 0 ? nil : base, count: count))
    }
}
