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

    /// The usable bytes of the elements that meet `[low, high)`, appended to
    /// `ranges` (one range per element, or one for all when they touch).
    public func appendExtents(_ low: UInt64, _ high: UInt64, to ranges: inout [Range<UInt64>]) {
        guard count > 0, stride > 0, usableSize > 0, low < high, high > start, low < end else { return }
        let first = low > start ? (low - start) / UInt64(stride) : 0
        let last = min(UInt64(count - 1), (high - 1 - start) / UInt64(stride))
        guard first <= last else { return }
        let usable = UInt64(min(usableSize, stride))
        if usable == UInt64(stride) {
            ranges.append(start + first * usable..<start + (last + 1) * usable)
            return
        }
        for index in first...last {
            let element = start + index * UInt64(stride)
            ranges.append(element..<element + usable)
        }
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

    /// The usable bytes of every element that meets `[low, high)`
    /// (`MemoryRegions.extents`).
    public func extents(_ low: UInt64, _ high: UInt64) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for region in regions where region.start < high && region.end > low {
            region.appendExtents(low, high, to: &ranges)
        }
        return ranges
    }

    /// The closure form of `extents`, for `MemoryRegions(resolver:extents:)`.
    public var extentsQuery: @Sendable (UInt64, UInt64) -> [Range<UInt64>] {
        let table = self
        return { table.extents($0, $1) }
    }

    /// The closure form for `MemoryRegions(resolver:)`.
    public var resolver: @Sendable (UInt64, Int, Bool) -> Bool {
        let table = self
        return { table.permits($0, size: $1, write: $2) }
    }
}
