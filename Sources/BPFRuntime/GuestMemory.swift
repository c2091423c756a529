/// A block of host memory owned by BPFKit and handed to programs: input
/// buffers, packets, contexts, stacks.
///
/// It is 16-byte aligned, zero-filled, and never moves, so its address can be
/// placed in a register and stay valid for the whole run.
///
/// Its accessors are `@inlinable` so that callers in other modules (the XDP
/// frame's checks, hosts) get them specialised instead of going through
/// generic metadata at run time.
public final class GuestMemory: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    public convenience init(bytes: [UInt8]) {
        self.init(count: bytes.count)
        write(bytes, at: 0)
    }

    deinit { base.deallocate() }

    /// The address programs see.
    @inlinable public var address: UInt64 { UInt64(UInt(bitPattern: base)) }

    /// The region covering the whole block.
    public func region(_ kind: MemoryRegion.Kind, writable: Bool = true) -> MemoryRegion {
        MemoryRegion(start: address, count: count, writable: writable, kind: kind)
    }

    /// A copy of `count` bytes from `offset`.
    @inlinable
    public func read(at offset: Int = 0, count: Int? = nil) -> [UInt8] {
        let n = count ?? self.count - offset
        precondition(offset >= 0 && n >= 0 && offset + n <= self.count, "read outside guest memory")
        return Array(UnsafeRawBufferPointer(start: base + offset, count: n))
    }

    /// Copies bytes in at `offset`.
    @inlinable
    public func write(_ bytes: [UInt8], at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= count, "write outside guest memory")
        bytes.withUnsafeBytes { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// Reads an integer in host order.
    @inlinable
    public func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "load outside guest memory")
        return (base + offset).loadUnaligned(as: T.self)
    }

    /// Writes an integer in host order.
    @inlinable
    public func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "store outside guest memory")
        (base + offset).storeBytes(of: value, toByteOffset: 0, as: T.self)
    }
}
