/// A helper's native fast path: a C-ABI function that JITed code calls
/// directly, with r1–r5 in the first five argument registers, the run's
/// `NativeHelperFrame` sixth and the helper's own `data` seventh.
///
/// It exists for the helpers programs call in their hot paths (map lookups
/// and updates, clocks, the CPU id): the ordinary path through `Helper.body`
/// builds a `HelperCall` with a `MemoryAccess` and goes through a closure,
/// which costs reference counting and boxing on every call. A native entry
/// works on raw memory only, and hands anything out of the ordinary (a
/// pointer outside the BPF stack, a handle it does not know, a failure that
/// needs a message) to `NativeHelperFrame.fallback`, which runs `body` with
/// every check: a native entry must return exactly what `body` would.
public struct NativeHelper: @unchecked Sendable {
    /// r1–r5, the run's frame (a `NativeHelperFrame`: see `NativeHelperFrame.at`), and `data`.
    public typealias Function = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64,
                                                UnsafeMutableRawPointer, UnsafeRawPointer?) -> UInt64

    public let function: Function
    /// Passed to every call as the seventh argument (immutable while `owner` lives).
    public let data: UnsafeRawPointer?
    /// Keeps `data` alive as long as the helper.
    private let owner: (any AnyObject & Sendable)?

    public init(_ function: Function, data: UnsafeRawPointer? = nil, owner: (any AnyObject & Sendable)? = nil) {
        self.function = function
        self.data = data
        self.owner = owner
    }

    /// The function's address, for call instructions.
    public var address: UInt { unsafeBitCast(function, to: UInt.self) }
    /// `data` as a 64-bit word.
    public var dataWord: UInt64 { UInt64(UInt(bitPattern: data)) }
}

/// What a native helper entry sees of the run besides its arguments: the
/// BPF stack's bounds (pointers into it need no further check, the usual
/// case for keys and values on the stack) and the engine's full helper call
/// for everything else. An engine keeps it at the start of its run context,
/// so that the frame's address is the context's.
public struct NativeHelperFrame {
    /// r1–r5 and the frame: the engine's ordinary helper call for the same
    /// call site (it finds which helper from its own records of the call).
    public typealias Fallback = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64, UnsafeMutableRawPointer) -> UInt64

    /// Lowest byte of the BPF stack (all frames) of the program that runs now.
    public var stackBase: UInt64 = 0
    /// One past the BPF stack's last byte.
    public var stackEnd: UInt64 = 0
    /// The full path; engines that call native entries always set it.
    public var fallback: Fallback?

    public init() {}

    /// The frame a native entry was given.
    @inlinable
    public static func at(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<NativeHelperFrame> {
        raw.assumingMemoryBound(to: NativeHelperFrame.self)
    }

    /// Whether `[address, address + count)` lies inside the BPF stack.
    @inlinable
    public func inStack(_ address: UInt64, count: Int) -> Bool {
        address >= stackBase && address <= stackEnd && UInt64(count) <= stackEnd &- address
    }
}

extension UnsafeMutablePointer where Pointee == NativeHelperFrame {
    /// Runs the helper through the engine's full path (same arguments).
    @inlinable
    public func fallBack(_ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64, _ a5: UInt64) -> UInt64 {
        pointee.fallback!(a1, a2, a3, a4, a5, UnsafeMutableRawPointer(self))
    }
}
