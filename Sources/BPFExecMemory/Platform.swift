/// The one layer through which executable memory talks to the system.
///
/// Every mmap, munmap, mprotect, memfd_create, madvise, pwrite and
/// instruction-cache flush the pack performs goes through an `ExecMemoryPlatform`, so that
/// tests can stand in for the system: record every protection ever asked
/// for, pretend huge pages were refused, or pretend the host needs cache
/// maintenance. `SystemPlatform` is the real one.
public protocol ExecMemoryPlatform: Sendable {
    /// The base page size: the granularity of mappings of ordinary memory.
    var pageSize: Int { get }

    /// Whether code written through one view must be followed by an explicit
    /// instruction-cache flush before it is executed (arm64: yes, x86-64: no).
    var requiresInstructionCacheMaintenance: Bool { get }

    /// Creates an anonymous memory file (memfd) of `length` bytes, backed by
    /// hugetlb pages when `hugeTLB` is set. The file is what lets the same
    /// memory be mapped twice, once executable and once writable.
    func createMemoryFile(name: String, length: Int, hugeTLB: Bool) throws(ExecMemoryError) -> MemoryFile

    /// Closes a memory file; its memory is freed once no mapping remains.
    func closeMemoryFile(_ file: MemoryFile)

    /// Maps `length` bytes. With `fixedAt`, replaces whatever the caller had
    /// reserved there (MAP_FIXED); used only inside the caller's own
    /// reservation. Must refuse a protection that is writable and executable.
    func map(
        length: Int,
        protection: MemoryProtection,
        backing: MappingBacking,
        fixedAt address: UnsafeMutableRawPointer?
    ) throws(ExecMemoryError) -> UnsafeMutableRawPointer

    /// Removes a mapping made by `map`.
    func unmap(_ address: UnsafeMutableRawPointer, length: Int)

    /// Changes the protection of mapped pages. Must refuse writable and
    /// executable at once.
    func protect(
        _ address: UnsafeMutableRawPointer,
        length: Int,
        protection: MemoryProtection
    ) throws(ExecMemoryError)

    /// Gives the kernel advice about a mapping; returns whether it accepted.
    func advise(_ address: UnsafeMutableRawPointer, length: Int, _ advice: MemoryAdvice) -> Bool

    /// Makes freshly written code at `address` visible to instruction fetch.
    /// Called with executable-view addresses, only when
    /// `requiresInstructionCacheMaintenance` is true.
    func flushInstructionCache(_ address: UnsafeRawPointer, length: Int)

    /// How many bytes of the mapping that starts at `address` are currently
    /// backed by huge pages (hugetlb or PMD-mapped transparent huge pages).
    /// Used to report honestly what the kernel granted, not what was asked.
    func hugePageBytes(inMappingAt address: UnsafeRawPointer) -> Int

    /// Stores `bytes` at byte `offset` of `file` without mapping it
    /// (`pwrite`), so that no address of the process becomes writable at
    /// all. Returns false when the file cannot be written that way (hugetlb
    /// files have no `write`; a platform may not offer it): the caller then
    /// writes through a transient writable view instead.
    func write(_ bytes: UnsafeRawBufferPointer, to file: MemoryFile, at offset: Int) -> Bool
}

extension ExecMemoryPlatform {
    /// Platforms without file writes use writable views for every store.
    public func write(_ bytes: UnsafeRawBufferPointer, to file: MemoryFile, at offset: Int) -> Bool {
        false
    }
}

/// Access rights of a mapping. Writable and executable together is never valid.
public struct MemoryProtection: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let read = MemoryProtection(rawValue: 1 << 0)
    public static let write = MemoryProtection(rawValue: 1 << 1)
    public static let execute = MemoryProtection(rawValue: 1 << 2)

    /// The executable view: code can be fetched and read, never written.
    public static let readExecute: MemoryProtection = [.read, .execute]
    /// The writable view: bytes can be stored, never fetched as code.
    public static let readWrite: MemoryProtection = [.read, .write]
    /// Address space held in reserve: no access at all.
    public static let inaccessible: MemoryProtection = []

    /// The one combination the platform layer refuses.
    public var isWritableAndExecutable: Bool {
        contains(.write) && contains(.execute)
    }

    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }
}

/// An open memory file (memfd) that backs one chunk or dedicated mapping.
public struct MemoryFile: Hashable, Sendable {
    public let descriptor: Int32
    /// Backed by hugetlb pages: mappings of it must cover whole huge pages.
    public let hugeTLB: Bool

    public init(descriptor: Int32, hugeTLB: Bool) {
        self.descriptor = descriptor
        self.hugeTLB = hugeTLB
    }
}

/// What a mapping is made of.
public enum MappingBacking: Hashable, Sendable {
    /// Address space only (PROT_NONE, no commit charge), reserved so that an
    /// aligned region can be carved out of it.
    case reservation
    /// Private anonymous memory.
    case anonymous
    /// A shared view of `file` starting at byte `offset`.
    case file(MemoryFile, offset: Int)
}

/// Advice for `madvise`.
public enum MemoryAdvice: Hashable, Sendable {
    /// MADV_HUGEPAGE: back this range with transparent huge pages if possible.
    case hugePages
}

/// Which kind of pages the kernel actually gave a chunk.
public enum HugePageKind: String, Hashable, Sendable, CustomStringConvertible {
    /// Explicit huge pages from the hugetlb pool (memfd with MFD_HUGETLB).
    case hugeTLB = "hugetlb"
    /// Transparent huge pages granted after MADV_HUGEPAGE.
    case transparent = "thp"
    /// Ordinary base pages (huge pages refused, unavailable, or not asked for).
    case normal = "4k"

    public var description: String {
        rawValue
    }
}

/// Whether a pack asks for huge pages for its chunks.
public enum HugePagePolicy: Hashable, Sendable {
    /// hugetlb first, then transparent huge pages, then ordinary pages.
    case preferred
    /// Skip hugetlb (whose pool is a scarce, admin-sized resource); try
    /// transparent huge pages, then ordinary pages.
    case transparentOnly
    /// Ordinary pages only.
    case never
}
