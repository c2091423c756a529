/// A snapshot of a pack's memory, for `bpfkit run --stats` and for tests.
public struct PackStatistics: Hashable, Sendable, CustomStringConvertible {
    /// One shared chunk.
    public struct Chunk: Hashable, Sendable {
        /// Start of the chunk's executable view.
        public var address: ExecutableAddress
        public var size: Int
        /// Live images in the chunk.
        public var images: Int
        /// Bytes in allocated units (images plus their slack).
        public var bytesInUse: Int
        public var freeBytes: Int
        /// The largest image (rounded to units) that still fits.
        public var largestFreeRun: Int
        public var hugePages: HugePageKind
    }

    /// One image too large for a chunk, living in a mapping of its own.
    public struct DedicatedMapping: Hashable, Sendable {
        public var address: ExecutableAddress
        public var size: Int
        public var hugePages: HugePageKind
    }

    public var trap: TrapPattern
    public var unitSize: Int
    public var chunkSize: Int
    public var chunks: [Chunk]
    public var dedicatedMappings: [DedicatedMapping]
    /// Sum of the sizes callers asked for, over all live images.
    public var requestedBytes: Int
    /// Units freed while their trap fill could not be written; kept out of
    /// reuse so that free space is always traps.
    public var unreclaimedBytes: Int
    /// Emptied chunks kept mapped (all traps) for the next allocation that
    /// finds no room; not in `chunks`.
    public var spareChunks: Int = 0
    /// Bytes of the spare chunks.
    public var spareBytes: Int = 0

    /// Live images, in chunks and in dedicated mappings.
    public var images: Int {
        chunks.reduce(0) { $0 + $1.images } + dedicatedMappings.count
    }

    /// Bytes of chunk units and dedicated mappings that hold images.
    public var bytesInUse: Int {
        chunks.reduce(0) { $0 + $1.bytesInUse } + dedicatedBytes
    }

    /// Free bytes in chunks (dedicated mappings have none to share).
    public var freeBytes: Int {
        chunks.reduce(0) { $0 + $1.freeBytes }
    }

    /// The largest free run in any chunk: the largest image that fits
    /// without mapping more memory.
    public var largestFreeRun: Int {
        chunks.map(\.largestFreeRun).max() ?? 0
    }

    public var dedicatedBytes: Int {
        dedicatedMappings.reduce(0) { $0 + $1.size }
    }

    /// Executable memory mapped in all: chunks, spare chunks and dedicated
    /// mappings.
    public var mappedBytes: Int {
        chunks.reduce(0) { $0 + $1.size } + spareBytes + dedicatedBytes
    }

    /// Chunk count per kind of page actually granted.
    public var chunksByPageKind: [HugePageKind: Int] {
        chunks.reduce(into: [:]) { $0[$1.hugePages, default: 0] += 1 }
    }

    public var description: String {
        let kinds = [HugePageKind.hugeTLB, .transparent, .normal].compactMap { kind in
            chunksByPageKind[kind].map { "\($0) \(kind)" }
        }
        var lines = [
            "program pack: \(Self.bytes(chunkSize)) chunks, \(unitSize)-byte units, trap \(trap)",
            row("chunks", "\(chunks.count)" + (kinds.isEmpty ? "" : " (pages: " + kinds.joined(separator: ", ") + ")")),
            row("images", "\(images) (\(Self.bytes(requestedBytes)) requested)"),
            row("bytes in use", Self.bytes(bytesInUse)),
            row("free bytes", Self.bytes(freeBytes)),
            row("largest free run", Self.bytes(largestFreeRun)),
            row("spare chunks", "\(spareChunks) (\(Self.bytes(spareBytes)), all traps)"),
            row("dedicated mappings", "\(dedicatedMappings.count) (\(Self.bytes(dedicatedBytes)))"),
            row("mapped in all", Self.bytes(mappedBytes)),
        ]
        if unreclaimedBytes > 0 {
            lines.append(row("unreclaimed", Self.bytes(unreclaimedBytes)))
        }
        for (index, chunk) in chunks.enumerated() {
            lines.append(
                "  chunk \(index) at \(chunk.address): \(chunk.images) images, "
                    + "\(Self.bytes(chunk.bytesInUse)) used, \(Self.bytes(chunk.freeBytes)) free, "
                    + "largest run \(Self.bytes(chunk.largestFreeRun)), pages \(chunk.hugePages)")
        }
        for mapping in dedicatedMappings {
            lines.append("  dedicated at \(mapping.address): \(Self.bytes(mapping.size)), pages \(mapping.hugePages)")
        }
        return lines.joined(separator: "\n")
    }

    private func row(_ label: String, _ value: String) -> String {
        "  " + label + String(repeating: " ", count: max(1, 20 - label.count)) + value
    }

    /// "1234 B", "12.0 KiB", "2.0 MiB": exact below 10 KiB, where units matter.
    static func bytes(_ count: Int) -> String {
        if count < 10 * 1024 {
            return "\(count) B"
        }
        let units = ["KiB", "MiB", "GiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
