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
    /// which live as long as their map element). Replacing it drops
    /// `extents`, which answered for the old resolver.
    public var resolver: (@Sendable (_ address: UInt64, _ size: Int, _ write: Bool) -> Bool)? {
        didSet { extents = nil }
    }
    /// The byte ranges the resolver admits (for reading) that meet
    /// `[low, high)`, at the moment of the call: exactly those, in any order,
    /// possibly extending past either end. Optional: `resolvedRanges` probes
    /// the resolver byte by byte without it. An engine that copies host memory
    /// (the emulator's shadow pages) asks it which bytes of a page are the
    /// program's, so that it never copies the rest.
    public var extents: (@Sendable (_ low: UInt64, _ high: UInt64) -> [Range<UInt64>])?

    public init(_ regions: [MemoryRegion] = [], resolver: (@Sendable (UInt64, Int, Bool) -> Bool)? = nil,
                extents: (@Sendable (UInt64, UInt64) -> [Range<UInt64>])? = nil) {
        self.regions = regions
        self.resolver = resolver
        self.extents = extents
    }

    @inlinable
    public func permits(_ address: UInt64, size: Int, write: Bool) -> Bool {
        for region in regions where region.permits(address, size: size, write: write) { return true }
        return resolver?(address, size, write) ?? false
    }

    /// The bytes of `[low, high)` the resolver admits for reading, clipped to
    /// it, sorted and merged: from `extents` when the resolver has one,
    /// otherwise by asking the resolver about each 8-byte word and, where it
    /// refuses the word, each byte (up to `high - low` calls: meant for a page).
    public func resolvedRanges(_ low: UInt64, _ high: UInt64) -> [Range<UInt64>] {
        guard let resolver, low < high else { return [] }
        if let extents {
            return Self.merged(extents(low, high).compactMap { range in
                let start = max(range.lowerBound, low), end = min(range.upperBound, high)
                return start < end ? start..<end : nil
            })
        }
        var ranges: [Range<UInt64>] = []
        func add(_ address: UInt64, _ count: UInt64) {
            if let last = ranges.last, last.upperBound == address {
                ranges[ranges.count - 1] = last.lowerBound..<address + count
            } else {
                ranges.append(address..<address + count)
            }
        }
        var address = low
        while address < high {
            if address & 7 == 0, high - address >= 8, resolver(address, 8, false) {
                add(address, 8)
                address += 8
                continue
            }
            if resolver(address, 1, false) { add(address, 1) }
            address += 1
        }
        return ranges
    }

    /// `ranges` sorted, with overlapping and touching ones joined.
    public static func merged(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !range.isEmpty {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }
}
