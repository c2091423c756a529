import BPFISA

/// Checked access to the program's memory for helpers and hosts.
///
/// Every read and write is checked against the run's regions first; the raw
/// pointer work stays in this one type.
public struct MemoryAccess: Sendable {
    public let regions: MemoryRegions
    /// Where the program's addresses are not the host's (a 32-bit emulated
    /// machine, whose code holds guest addresses): the host address behind a
    /// program address, or nil. Consulted only for an access no region permits
    /// as it stands, such as a string a helper is given in a scalar argument
    /// (`bpf_trace_printk`'s `%s`), which the machine cannot know to translate.
    public let hostAddress: (@Sendable (UInt64) -> UInt64?)?
    /// The order in which the program stores numbers in its memory: the
    /// host's, or the other one for a big-endian engine on a little-endian
    /// host. Helpers that read memory as numbers (`bpf_csum_diff`) read it so.
    public let byteOrder: ByteOrder

    public init(regions: MemoryRegions, byteOrder: ByteOrder = .host) {
        self.regions = regions
        self.hostAddress = nil
        self.byteOrder = byteOrder
    }

    public init(regions: MemoryRegions, byteOrder: ByteOrder = .host, hostAddress: @escaping @Sendable (UInt64) -> UInt64?) {
        self.regions = regions
        self.hostAddress = hostAddress
        self.byteOrder = byteOrder
    }

    /// The host address of an access the regions permit, else an error. An
    /// access of no bytes touches nothing and is permitted wherever it
    /// points (as the verifier treats a zero size): whether an address at
    /// the very edge of a region counts as inside must not decide a run, as
    /// engines lay out their stacks differently (the differential campaign
    /// found `bpf_xdp_store_bytes(ctx, off, r10 - 512, 0)` failing on a JIT
    /// stack of one frame and succeeding on the interpreter's eight).
    private func check(_ address: UInt64, _ count: Int, write: Bool) throws(HelperError) -> UInt64 {
        if count == 0 { return address }
        if count >= 0, regions.permits(address, size: count, write: write) { return address }
        if count >= 0, let host = hostAddress?(address), regions.permits(host, size: count, write: write),
           count == 0 || hostAddress?(address &+ UInt64(count - 1)) == host &+ UInt64(count - 1) {
            return host
        }
        throw HelperError("\(write ? "write" : "read") of \(count) bytes at 0x\(String(address, radix: 16)) is outside the program's memory")
    }

    /// Copies `count` bytes out of program memory.
    public func read(at address: UInt64, count: Int) throws(HelperError) -> [UInt8] {
        let address = try check(address, count, write: false)
        guard count > 0, let base = UnsafeRawPointer(bitPattern: UInt(address)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Copies bytes into program memory.
    public func write(_ bytes: [UInt8], at address: UInt64) throws(HelperError) {
        let address = try check(address, bytes.count, write: true)
        guard !bytes.isEmpty, let base = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { return }
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// Reads a little- or host-endian integer.
    public func load<T: FixedWidthInteger>(_: T.Type, at address: UInt64) throws(HelperError) -> T {
        let address = try check(address, MemoryLayout<T>.size, write: false)
        return UnsafeRawPointer(bitPattern: UInt(address))!.loadUnaligned(as: T.self)
    }

    /// Writes an integer in host order.
    public func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) throws(HelperError) {
        let address = try check(address, MemoryLayout<T>.size, write: true)
        UnsafeMutableRawPointer(bitPattern: UInt(address))!.storeBytes(of: value, toByteOffset: 0, as: T.self)
    }

    /// Gives checked, temporary raw access to a range, for helpers that must not copy
    /// (map lookups hashing a key in place). The buffer must not escape `body`.
    public func withBytes<R>(at address: UInt64, count: Int, write: Bool,
                             _ body: (UnsafeMutableRawBufferPointer) throws(HelperError) -> R) throws(HelperError) -> R {
        let address = try check(address, count, write: write)
        let base = UnsafeMutableRawPointer(bitPattern: UInt(address))
        return try body(UnsafeMutableRawBufferPointer(start: count == 0 ? nil : base, count: count))
    }
}
