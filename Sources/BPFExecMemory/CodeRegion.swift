import CBPFPlatform

/// One memory file and its executable view: the memory behind a chunk or a
/// dedicated (oversized) mapping.
///
/// The executable view (read+execute) lives as long as the region. Images
/// and trap fills are written into the file itself (`pwrite`), so no address
/// becomes writable at all; where the file cannot be written that way
/// (hugetlb) and for atomic patches, `withWritableView` maps just the
/// touched pages of the same file read+write at another address, runs the
/// write, and unmaps them again before returning. No address is ever
/// writable and executable.
/// Together with `ExecMemoryPlatform`, this is the only type that holds raw
/// pointers to executable memory.
final class CodeRegion {
    /// Size of a PMD-level huge page on x86-64 and arm64 (4 KiB granule).
    static let hugePageSize = 2 << 20

    let platform: any ExecMemoryPlatform
    let file: MemoryFile
    /// Start of the executable view.
    let base: UnsafeMutableRawPointer
    let length: Int
    /// Smallest piece of the file a view can map: a huge page for hugetlb
    /// files, a base page otherwise.
    let granularity: Int
    let hugePages: HugePageKind
    let trap: TrapPattern
    /// Whether the views are aligned and advised for transparent huge pages.
    private let advisedHugePages: Bool

    private init(
        platform: any ExecMemoryPlatform, file: MemoryFile, base: UnsafeMutableRawPointer, length: Int,
        granularity: Int, hugePages: HugePageKind, trap: TrapPattern, advisedHugePages: Bool
    ) {
        self.platform = platform
        self.file = file
        self.base = base
        self.length = length
        self.granularity = granularity
        self.hugePages = hugePages
        self.trap = trap
        self.advisedHugePages = advisedHugePages
    }

    var address: ExecutableAddress {
        ExecutableAddress(base)
    }

    /// Creates a region of `length` bytes (a multiple of the page size),
    /// completely filled with `trap`, trying huge pages as `policy` allows.
    static func make(
        name: String, length: Int, policy: HugePagePolicy, trap: TrapPattern, platform: any ExecMemoryPlatform
    ) throws(ExecMemoryError) -> CodeRegion {
        let hugeSized = length % hugePageSize == 0
        if policy == .preferred, hugeSized,
            let region = try? make(
                name: name, length: length, hugeTLB: true, advise: false, trap: trap, platform: platform)
        {
            return region
        }
        let advise = policy != .never && hugeSized
        return try make(name: name, length: length, hugeTLB: false, advise: advise, trap: trap, platform: platform)
    }

    private static func make(
        name: String, length: Int, hugeTLB: Bool, advise: Bool, trap: TrapPattern, platform: any ExecMemoryPlatform
    ) throws(ExecMemoryError) -> CodeRegion {
        let file = try platform.createMemoryFile(name: name, length: length, hugeTLB: hugeTLB)
        do {
            // Fill the whole file with traps before any executable view exists.
            let writable = try mapView(
                of: file, length: length, protection: .readWrite, advise: advise, platform: platform)
            let buffer = UnsafeMutableRawBufferPointer(start: writable, count: length)
            trap.fill(buffer, startingAtOffset: 0)
            let hugeBytes = hugeTLB ? length : (advise ? platform.hugePageBytes(inMappingAt: writable) : 0)
            platform.unmap(writable, length: length)

            let base = try mapView(
                of: file, length: length, protection: .readExecute, advise: advise, platform: platform)
            let kind: HugePageKind = hugeTLB ? .hugeTLB : (hugeBytes > 0 ? .transparent : .normal)
            let region = CodeRegion(
                platform: platform, file: file, base: base, length: length,
                granularity: hugeTLB ? hugePageSize : platform.pageSize, hugePages: kind, trap: trap,
                advisedHugePages: advise)
            if platform.requiresInstructionCacheMaintenance {
                platform.flushInstructionCache(base, length: length)
            }
            return region
        } catch {
            platform.closeMemoryFile(file)
            throw error
        }
    }

    /// Maps `file` whole. For transparent huge pages the view must start on a
    /// 2 MiB boundary (the kernel maps a huge page only where a whole aligned
    /// PMD fits), so it is carved out of a larger reservation.
    private static func mapView(
        of file: MemoryFile, length: Int, protection: MemoryProtection, advise: Bool,
        platform: any ExecMemoryPlatform
    ) throws(ExecMemoryError) -> UnsafeMutableRawPointer {
        guard advise else {
            return try platform.map(
                length: length, protection: protection, backing: .file(file, offset: 0), fixedAt: nil)
        }
        let alignment = hugePageSize
        let reserved = length + alignment
        let reservation = try platform.map(
            length: reserved, protection: .inaccessible, backing: .reservation, fixedAt: nil)
        let start = UInt(bitPattern: reservation)
        let aligned = (start + UInt(alignment - 1)) & ~UInt(alignment - 1)
        let head = Int(aligned - start)
        let tail = reserved - head - length
        let view: UnsafeMutableRawPointer
        do {
            view = try platform.map(
                length: length, protection: protection, backing: .file(file, offset: 0),
                fixedAt: reservation + head)
        } catch {
            platform.unmap(reservation, length: reserved)
            throw error
        }
        if head > 0 {
            platform.unmap(reservation, length: head)
        }
        if tail > 0 {
            platform.unmap(view + length, length: tail)
        }
        // Refused advice is not an error: the region simply gets base pages,
        // which the caller measures and reports.
        _ = platform.advise(view, length: length, .hugePages)
        return view
    }

    /// Unmaps the executable view and closes the file, returning the memory.
    func release() {
        platform.unmap(base, length: length)
        platform.closeMemoryFile(file)
    }

    /// Maps the pages holding `range` (byte offsets into the region)
    /// read+write at a fresh address, hands `body` exactly `range` of that
    /// view, unmaps it, then flushes the instruction cache for `range` of the
    /// executable view where the host needs it.
    func withWritableView(
        over range: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(ExecMemoryError) {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "write outside the region")
        guard !range.isEmpty else {
            return
        }
        let first = range.lowerBound - range.lowerBound % granularity
        let end = min(length, (range.upperBound + granularity - 1) / granularity * granularity)
        let view = try platform.map(
            length: end - first, protection: .readWrite, backing: .file(file, offset: first), fixedAt: nil)
        body(UnsafeMutableRawBufferPointer(start: view + (range.lowerBound - first), count: range.count))
        platform.unmap(view, length: end - first)
        if platform.requiresInstructionCacheMaintenance {
            platform.flushInstructionCache(base + range.lowerBound, length: range.count)
        }
    }

    /// Writes `staged` (filled by `body`, `range.count` bytes) at `range`
    /// of the file with one `pwrite`, then flushes the instruction cache
    /// where the host needs it. False when the platform cannot write the
    /// file: nothing was flushed, and the caller writes through a view.
    private func writeThroughFile(
        _ range: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) -> Void
    ) -> Bool {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "write outside the region")
        guard !file.hugeTLB, !range.isEmpty else {
            return range.isEmpty
        }
        let staged = [UInt8](unsafeUninitializedCapacity: range.count) { buffer, count in
            body(UnsafeMutableRawBufferPointer(buffer))
            count = range.count
        }
        let written = staged.withUnsafeBytes { platform.write($0, to: file, at: range.lowerBound) }
        guard written else {
            return false
        }
        if platform.requiresInstructionCacheMaintenance {
            platform.flushInstructionCache(base + range.lowerBound, length: range.count)
        }
        return true
    }

    /// Stores `bytes` at `range`, filling `trapRange` (which contains it)
    /// around them with traps, in one write to the file (or, where the file
    /// cannot be written, one pass through one writable view).
    func write(_ bytes: [UInt8], at offset: Int, within trapRange: Range<Int>) throws(ExecMemoryError) {
        precondition(trapRange.contains(offset) && offset + bytes.count <= trapRange.upperBound)
        let trap = self.trap
        let fill = { (buffer: UnsafeMutableRawBufferPointer) in
            let start = offset - trapRange.lowerBound
            trap.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[..<start]), startingAtOffset: trapRange.lowerBound)
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + bytes.count)]).copyMemory(from: source)
            }
            let rest = start + bytes.count
            trap.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[rest...]), startingAtOffset: trapRange.lowerBound + rest)
        }
        if writeThroughFile(trapRange, fill) {
            return
        }
        try withWritableView(over: trapRange, fill)
    }

    /// Fills `range` with traps.
    func fillWithTrap(_ range: Range<Int>) throws(ExecMemoryError) {
        let trap = self.trap
        let fill = { (buffer: UnsafeMutableRawBufferPointer) in
            trap.fill(buffer, startingAtOffset: range.lowerBound)
        }
        if writeThroughFile(range, fill) {
            return
        }
        try withWritableView(over: range, fill)
    }

    /// Replaces `bytes.count` bytes at `offset`, all within the naturally
    /// aligned 8-byte word at `wordOffset`, by reading that word, merging, and
    /// storing it back with one atomic 8-byte store. A thread executing the
    /// word concurrently sees the old or the new bytes, never a mixture.
    func storeAtomically(_ bytes: [UInt8], at offset: Int) throws(ExecMemoryError) {
        let wordOffset = offset & ~7
        precondition(offset + bytes.count <= wordOffset + 8, "patch crosses an 8-byte word")
        try withWritableView(over: wordOffset..<(wordOffset + 8)) { buffer in
            let word = buffer.baseAddress!.assumingMemoryBound(to: UInt64.self)
            var value = bpf_atomic_load_u64(word)
            withUnsafeMutableBytes(of: &value) { merged in
                for (index, byte) in bytes.enumerated() {
                    merged[offset - wordOffset + index] = byte
                }
            }
            bpf_atomic_store_u64(word, value)
        }
    }

    /// Reads `count` bytes at `offset` through the executable view.
    func read(at offset: Int, count: Int) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + count <= length, "read outside the region")
        return Array(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// The offset of `address` in this region, if it lies inside it.
    func offset(of address: ExecutableAddress) -> Int? {
        let start = UInt(bitPattern: base)
        guard address.rawValue >= start, address.rawValue < start + UInt(length) else {
            return nil
        }
        return Int(address.rawValue - start)
    }
}
