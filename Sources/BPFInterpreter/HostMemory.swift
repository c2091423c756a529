import BPFRuntime
import CBPFAtomics

/// Checked access to host memory for one run: the only place where the
/// interpreter turns a program's address into a pointer.
///
/// Every access is first checked against the run's regions. Two regions are
/// checked inline, because nearly every access of a real program hits one of
/// them: the stack (all frames, one contiguous block) and the first input
/// region (the context or packet r1 points to); then the run's dynamic region
/// (the XDP packet) at its live bounds. Anything else falls back to
/// the full region list and its resolver, out of line.
struct HostMemory {
    /// The stack: all frames of the run, `stackBytes` from `stackLow`.
    private var stackLow: UInt64
    private let stackBytes: UInt64
    /// The first input region, for reads.
    private let readStart: UInt64, readCount: UInt64
    /// The first input region again for writes, or empty when it is read-only,
    /// so writes to it take the slow path, which refuses them.
    private let writeStart: UInt64, writeCount: UInt64
    /// The live bounds of the run's dynamic region (the XDP packet), for
    /// reads; both point at `Self.never` when the run has none.
    private let dynamicStart: UnsafePointer<UInt64>, dynamicEnd: UnsafePointer<UInt64>
    /// The same for writes, or `Self.never` when the region is read-only.
    private let dynamicWriteStart: UnsafePointer<UInt64>, dynamicWriteEnd: UnsafePointer<UInt64>
    /// Every region the run may touch besides the stack (borrowed for the run).
    let regions: UnsafePointer<MemoryRegions>
    /// Whether memory has the byte order opposite to the host's: every
    /// integer loaded, stored or updated atomically is byte-reversed.
    let swapsBytes: Bool

    /// Bounds no access passes (start `UInt64.max`, end 0), so that the
    /// inline check needs no branch on whether a dynamic region exists.
    /// Allocated once and never written: safe to share between threads.
    nonisolated(unsafe) private static let never: (start: UnsafePointer<UInt64>, end: UnsafePointer<UInt64>) = {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        words.initialize(to: .max)
        (words + 1).initialize(to: 0)
        return (UnsafePointer(words), UnsafePointer(words + 1))
    }()

    init(stackLow: UInt64, stackBytes: Int, regions: UnsafePointer<MemoryRegions>, dynamicRegion: DynamicRegion? = nil, swapsBytes: Bool = false) {
        self.swapsBytes = swapsBytes
        self.stackLow = stackLow
        self.stackBytes = UInt64(stackBytes)
        self.regions = regions
        if let dynamic = dynamicRegion,
           let start = UnsafePointer<UInt64>(bitPattern: UInt(dynamic.startWord)),
           let end = UnsafePointer<UInt64>(bitPattern: UInt(dynamic.endWord)) {
            dynamicStart = start; dynamicEnd = end
            dynamicWriteStart = dynamic.writable ? start : Self.never.start
            dynamicWriteEnd = dynamic.writable ? end : Self.never.end
        } else {
            dynamicStart = Self.never.start; dynamicEnd = Self.never.end
            dynamicWriteStart = Self.never.start; dynamicWriteEnd = Self.never.end
        }
        // A region at address 0, or one wrapping around the address space,
        // would let a null pointer through the fast path; leave such a region
        // to the slow path, which refuses address 0.
        if let first = regions.pointee.regions.first, first.start != 0, first.count > 0,
           first.start <= UInt64.max - UInt64(first.count) {
            readStart = first.start
            readCount = UInt64(first.count)
            writeStart = first.writable ? first.start : 0
            writeCount = first.writable ? UInt64(first.count) : 0
        } else {
            readStart = 0; readCount = 0; writeStart = 0; writeCount = 0
        }
    }

    /// The stack moved to `stackLow` (same size): a run site's machine,
    /// kept from run to run while each run's block is on the thread's stack.
    @inline(__always)
    mutating func moveStack(to stackLow: UInt64) { self.stackLow = stackLow }

    /// Whether `[address, address + size)` lies inside one region that allows the access.
    @inline(__always)
    func permits(_ address: UInt64, _ size: UInt64, write: Bool) -> Bool {
        // Unsigned wrap-around turns "low <= a && a + size <= high" into one compare.
        if address &- stackLow <= stackBytes &- size { return true }
        let start = write ? writeStart : readStart, count = write ? writeCount : readCount
        let offset = address &- start
        if offset < count && count &- offset >= size { return true }
        // The dynamic region at its bounds of this moment: two loads, as the
        // adjust helpers may have moved them since the last access.
        let low = (write ? dynamicWriteStart : dynamicStart).pointee
        let high = (write ? dynamicWriteEnd : dynamicEnd).pointee
        if address >= low && address <= high && size <= high &- address { return true }
        return permitsSlowly(address, size, write: write)
    }

    @inline(never)
    private func permitsSlowly(_ address: UInt64, _ size: UInt64, write: Bool) -> Bool {
        address != 0 && regions.pointee.permits(address, size: Int(size), write: write)
    }

    // MARK: Loads and stores

    /// Reads a `T` in host byte order at `address`, or stops the run.
    @inline(__always)
    func load<T: FixedWidthInteger>(_: T.Type, at address: UInt64, pc: Int) throws(ExecutionError) -> T {
        let size = UInt64(MemoryLayout<T>.size)
        guard permits(address, size, write: false) else {
            throw .outOfBounds(pc: pc, address: address, size: Int(size), write: false)
        }
        let value = UnsafeRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped.loadUnaligned(as: T.self)
        return swapsBytes ? value.byteSwapped : value
    }

    /// Writes a `T` in host byte order at `address`, or stops the run.
    @inline(__always)
    func store<T: FixedWidthInteger>(_ value: T, at address: UInt64, pc: Int) throws(ExecutionError) {
        let size = UInt64(MemoryLayout<T>.size)
        guard permits(address, size, write: true) else {
            throw .outOfBounds(pc: pc, address: address, size: Int(size), write: true)
        }
        UnsafeMutableRawPointer(bitPattern: UInt(address)).unsafelyUnwrapped.storeBytes(of: swapsBytes ? value.byteSwapped : value, as: T.self)
    }

    // MARK: Atomics

    /// The read-modify-write operations of RFC 9669, section 5.3.
    enum ReadModifyWrite { case add, or, and, xor, exchange, compareExchange }

    /// Performs `operation` atomically on the 64-bit word at `address` and
    /// returns its old value. `comparand` is used by compare-exchange only.
    @inline(__always)
    func atomic64(_ operation: ReadModifyWrite, at address: UInt64, operand: UInt64, comparand: UInt64 = 0,
                  pc: Int) throws(ExecutionError) -> UInt64 {
        let p = try atomicPointer(UInt64.self, at: address, pc: pc)
        if swapsBytes {
            return Self.swappedUpdate(operation, operand: operand, comparand: comparand) { expected, new in
                bpf_atomic_compare_exchange64(p, expected, new)
            } read: { bpf_atomic_fetch_or64(p, 0) }
        }
        switch operation {
        case .add: return bpf_atomic_fetch_add64(p, operand)
        case .or: return bpf_atomic_fetch_or64(p, operand)
        case .and: return bpf_atomic_fetch_and64(p, operand)
        case .xor: return bpf_atomic_fetch_xor64(p, operand)
        case .exchange: return bpf_atomic_exchange64(p, operand)
        case .compareExchange: return bpf_atomic_compare_exchange64(p, comparand, operand)
        }
    }

    /// The 32-bit form of `atomic64`; the old value is returned zero-extended.
    @inline(__always)
    func atomic32(_ operation: ReadModifyWrite, at address: UInt64, operand: UInt64, comparand: UInt64 = 0,
                  pc: Int) throws(ExecutionError) -> UInt64 {
        let p = try atomicPointer(UInt32.self, at: address, pc: pc)
        let v = UInt32(truncatingIfNeeded: operand)
        if swapsBytes {
            return Self.swappedUpdate(operation, operand: v, comparand: UInt32(truncatingIfNeeded: comparand)) { expected, new in
                bpf_atomic_compare_exchange32(p, expected, new)
            } read: { bpf_atomic_fetch_or32(p, 0) }
        }
        switch operation {
        case .add: return UInt64(bpf_atomic_fetch_add32(p, v))
        case .or: return UInt64(bpf_atomic_fetch_or32(p, v))
        case .and: return UInt64(bpf_atomic_fetch_and32(p, v))
        case .xor: return UInt64(bpf_atomic_fetch_xor32(p, v))
        case .exchange: return UInt64(bpf_atomic_exchange32(p, v))
        case .compareExchange:
            return UInt64(bpf_atomic_compare_exchange32(p, UInt32(truncatingIfNeeded: comparand), v))
        }
    }

    /// A read-modify-write on a word stored byte-reversed: a compare-exchange
    /// loop on the stored bytes, the operation on the value they hold.
    /// Returns the old value (zero-extended to 64 bits).
    private static func swappedUpdate<T: FixedWidthInteger & UnsignedInteger>(
        _ operation: ReadModifyWrite, operand: T, comparand: T,
        exchange: (T, T) -> T, read: () -> T
    ) -> UInt64 {
        var stored = read()
        while true {
            let old = stored.byteSwapped
            let new: T
            switch operation {
            case .add: new = old &+ operand
            case .or: new = old | operand
            case .and: new = old & operand
            case .xor: new = old ^ operand
            case .exchange: new = operand
            case .compareExchange:
                guard old == comparand else { return UInt64(old) }
                new = operand
            }
            let seen = exchange(stored, new.byteSwapped)
            if seen == stored { return UInt64(old) }
            stored = seen
        }
    }

    /// Checks an atomic access: inside a writable region and naturally
    /// aligned. Misaligned atomics are refused, as the kernel's verifier
    /// refuses them, because some hosts (arm64) fault on them.
    @inline(__always)
    private func atomicPointer<T: FixedWidthInteger>(_: T.Type, at address: UInt64, pc: Int) throws(ExecutionError) -> UnsafeMutablePointer<T> {
        let size = UInt64(MemoryLayout<T>.size)
        guard permits(address, size, write: true) else {
            throw .outOfBounds(pc: pc, address: address, size: Int(size), write: true)
        }
        guard address & (size - 1) == 0 else {
            throw .unsupported(pc: pc, what: "an atomic operation on the unaligned address 0x\(String(address, radix: 16))")
        }
        return UnsafeMutablePointer<T>(bitPattern: UInt(address)).unsafelyUnwrapped
    }
}
