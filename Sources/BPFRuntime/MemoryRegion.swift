/// A range of host memory a program may access, in the address space that
/// BPF registers hold (BPFKit runs programs on real host addresses, so a
/// pointer returned by a helper can be dereferenced by JITed code unchanged).
public struct MemoryRegion: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case stack, input, context, packet, mapValue = "map value", readOnlyData = "read-only data", other
    }

    public var start: UInt64
    public var count: Int
    public var writable: Bool
    public var kind: Kind

    public init(start: UInt64, count: Int, writable: Bool, kind: Kind) {
        self.start = start
        self.count = count
        self.writable = writable
        self.kind = kind
    }

    /// One past the last byte.
    @inlinable public var end: UInt64 { start &+ UInt64(count) }

    /// Whether `[address, address + size)` lies inside the region and the access is allowed.
    @inlinable
    public func permits(_ address: UInt64, size: Int, write: Bool) -> Bool {
        address >= start && address <= end && UInt64(size) <= end - address && (!write || writable)
    }

    public var description: String {
        "\(kind.rawValue) [0x\(String(start, radix: 16)), +\(count)\(writable ? "" : ", read-only")]"
    }
}

/// The set of regions one run may touch, with a resolver for regions that come
/// and go while it runs (map values).
public struct MemoryRegions: Sendable {
    public var regions: [MemoryRegion]
    /// Consulted when no static region permits an access (e.g. map values,
    /// which live as long as their map element).
    public var resolver: (@Sendable (_ address: UInt64, _ size: Int, _ write: Bool) -> Bool)?

    public init(_ regions: [MemoryRegion] = [], resolver: (@Sendable (UInt64, Int, Bool) -> Bool)? = nil) {
        self.regions = regions
        self.resolver = resolver
    }

    @inlinable
    public func permits(_ address: UInt64, size: Int, write: Bool) -> Bool {
        for region in regions where region.permits(address, size: size, write: write) { return true }
        return resolver?(address, size, write) ?? false
    }
}
