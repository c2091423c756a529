/// A region whose ends move while a program runs (an XDP packet, whose
/// `data_meta` and `data_end` the adjust helpers change), checked by the
/// engines inline from its live bounds.
///
/// It holds the host addresses of two `UInt64` words that contain the
/// region's current first byte and one past its last byte. An engine reads
/// both words at every check, so an access is judged against the bounds of
/// the moment it runs: `start <= address && address + size <= end`. The
/// words must stay valid for the whole run (the run's owner keeps the
/// memory holding them alive). The region is an accelerator only: the same
/// bytes must also be admitted by the run's `MemoryRegions` (e.g. through
/// its resolver), so that an engine ignoring it stays correct.
public struct DynamicRegion: Sendable, Hashable {
    /// Address of the word holding the region's first byte.
    public var startWord: UInt64
    /// Address of the word holding one past the region's last byte.
    public var endWord: UInt64
    public var writable: Bool

    public init(startWord: UInt64, endWord: UInt64, writable: Bool) {
        self.startWord = startWord
        self.endWord = endWord
        self.writable = writable
    }
}
