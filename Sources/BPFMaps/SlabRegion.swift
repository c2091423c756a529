/// Where programs may touch a slab: each element's first `usableSize` bytes.
///
/// Checking per element (not per slab) means a program that runs off the end
/// of one value into the padding or the next value gets a run-time error, as
/// the kernel's verifier would refuse it at load time.
public struct SlabRegion: Sendable, Hashable {
    public var start: UInt64
    public var count: Int
    public var stride: Int
    public var usableSize: Int
    public var writable: Bool

    public init(start: UInt64, count: Int, stride: Int, usableSize: Int, writable: Bool) {
        self.start = start
        self.count = count
        self.stride = stride
        self.usableSize = usableSize
        self.writable = writable
    }

    public var end: UInt64 { start + UInt64(count * stride) }

    @inlinable
    public func permits(_ address: UInt64, size: Int, write: Bool) -> Bool {
        guard address >= start, !write || writable, size >= 0 else { return false }
        let offset = address - start
        let index = offset / UInt64(stride)
        guard index < UInt64(count) else { return false }
        return offset % UInt64(stride) + UInt64(size) <= UInt64(usableSize)
    }
}

/// Every map value region of a set of maps, sorted by address, answering
/// "may the program touch these bytes?" by binary search.
///
/// Slabs never move or grow, so the table is built once when the maps are
/// instantiated and read without locks by every running program; this is the
/// `MemoryRegions.resolver` the engines consult for map values.
public struct MapRegionTable: Sendable {
    public let regions: [SlabRegion]

    public init(_ regions: [SlabRegion]) {
        self.regions = regions.sorted { $0.start < $1.start }
    }

    public init(maps: [any BPFMap]) {
        self.init(maps.flatMap(\.valueRegions))
    }

    /// The last region starting at or below `address`, then its element check.
    public func permits(_ address: UInt64, size: Int, write: Bool) -> Bool {
        var low = 0, high = regions.count
        while low < high {
            let mid = (low + high) / 2
            if regions[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return false }
        return regions[low - 1].permits(address, size: size, write: write)
    }

    /// The closure form for `MemoryRegions(resolver:)`.
    public var resolver: @Sendable (UInt64, Int, Bool) -> Bool {
        let table = self
        return { table.permits($0, size: $1, write: $2) }
    }
}
