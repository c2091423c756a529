/// The kernel's error numbers that map operations report to programs, as
/// negative `Int64` results (`-ENOENT` and so on), exactly as BPF helpers do.
public enum Errno {
    public static let ENOENT: Int32 = 2
    public static let EFAULT: Int32 = 14
    public static let E2BIG: Int32 = 7
    public static let EAGAIN: Int32 = 11
    public static let ENOMEM: Int32 = 12
    public static let EACCES: Int32 = 13
    public static let EBUSY: Int32 = 16
    public static let EEXIST: Int32 = 17
    public static let EINVAL: Int32 = 22
    public static let ENOSPC: Int32 = 28
    public static let EOPNOTSUPP: Int32 = 95

    /// `-errno` as the 64-bit register value a helper returns.
    @inlinable public static func result(_ errno: Int32) -> UInt64 {
        UInt64(bitPattern: -Int64(errno))
    }
}

/// Why a map operation failed (host API). Programs see the same failures as
/// `-errno` (`errno` below), so both sides agree on what happened.
public enum MapError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No element with this key (ENOENT).
    case noSuchKey
    /// An element with this key exists and NOEXIST was asked (EEXIST).
    case keyExists
    /// The map holds max_entries elements, or the index is past the end (E2BIG).
    case full
    /// The operation or its arguments are invalid for this map (EINVAL).
    case invalidArgument(String)
    /// The map type does not offer this operation (EOPNOTSUPP).
    case unsupported(String)
    /// The definition makes no sense (key size 0, max_entries 0, value too large, ...).
    case invalidDefinition(map: String, reason: String)
    /// No room for a ring-buffer record (EAGAIN).
    case noSpace
    /// No room in a perf event buffer: the sample is lost (ENOSPC).
    case noBufferSpace
    /// A program tried to change a map created with `BPF_F_RDONLY_PROG`
    /// (global `.rodata`, for one): EACCES, the error the kernel's verifier
    /// refuses such a helper call with ("write into map forbidden").
    case readOnly(map: String)

    /// The positive errno a program sees for this failure.
    public var errno: Int32 {
        switch self {
        case .noSuchKey: Errno.ENOENT
        case .keyExists: Errno.EEXIST
        case .full: Errno.E2BIG
        case .invalidArgument, .invalidDefinition: Errno.EINVAL
        case .unsupported: Errno.EOPNOTSUPP
        case .noSpace: Errno.EAGAIN
        case .noBufferSpace: Errno.ENOSPC
        case .readOnly: Errno.EACCES
        }
    }

    public var description: String {
        switch self {
        case .noSuchKey: "no element with this key (ENOENT)"
        case .keyExists: "an element with this key already exists (EEXIST)"
        case .full: "map is full or index out of range (E2BIG)"
        case .invalidArgument(let why): "invalid argument: \(why) (EINVAL)"
        case .unsupported(let what): "\(what) is not supported by this map type (EOPNOTSUPP)"
        case .invalidDefinition(let map, let reason): "map '\(map)': \(reason)"
        case .noSpace: "no space left in the ring buffer (EAGAIN)"
        case .noBufferSpace: "no room in the perf event buffer; the sample is lost (ENOSPC)"
        case .readOnly(let map): "map '\(map)' is read-only for programs (BPF_F_RDONLY_PROG): write into map forbidden (EACCES)"
        }
    }
}

/// The `flags` argument of map updates (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
public enum UpdateFlags: UInt64, Sendable, Hashable, CaseIterable {
    /// Create a new element or update an existing one.
    case any = 0
    /// Create only: fail with EEXIST if the key is present.
    case noExist = 1
    /// Update only: fail with ENOENT if the key is absent.
    case exist = 2

    /// Decodes the raw flags a program passes; `BPF_F_LOCK` (4) and unknown bits are EINVAL.
    public init(raw: UInt64) throws(MapError) {
        guard let flags = UpdateFlags(rawValue: raw) else {
            throw .invalidArgument("update flags \(raw) (expected BPF_ANY 0, BPF_NOEXIST 1 or BPF_EXIST 2)")
        }
        self = flags
    }
}
