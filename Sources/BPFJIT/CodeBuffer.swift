/// The bytes of one pass of a JIT: a growable buffer reused from pass to pass.
///
/// Emitting must cost no allocation per instruction (the compile-throughput
/// target is millions of BPF instructions per second), so the buffer keeps its
/// storage between passes and writes through a raw pointer. This is one of the
/// few types in BPFJIT that touch unsafe pointers. Its mutable state sits
/// behind a pointer rather than in stored properties, so that emitting a
/// byte costs no dynamic exclusivity check (class properties would).
///
/// An encoder that meets an operand it cannot encode calls `poison(_:)` and
/// carries on emitting something of the right shape; the driver checks
/// `poisoned` after every pass and turns it into an error, so a bad operand is
/// never silently truncated (the kernel's "poison and validate").
public final class CodeBuffer {
    @usableFromInline
    struct Storage {
        @usableFromInline var base: UnsafeMutablePointer<UInt8>
        @usableFromInline var capacity: Int
        @usableFromInline var used: Int
        @usableFromInline var poisoned: String?
    }

    @usableFromInline let storage: UnsafeMutablePointer<Storage>

    public init(capacity: Int = 4096) {
        let capacity = max(capacity, 64)
        storage = .allocate(capacity: 1)
        storage.initialize(to: Storage(base: .allocate(capacity: capacity), capacity: capacity, used: 0, poisoned: nil))
    }

    deinit {
        storage.pointee.base.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// A non-owning view for encoders (no reference counting per byte).
    @inlinable public var view: CodeView { CodeView(storage: storage) }

    /// Bytes emitted so far in this pass; the offset of the next byte.
    @inlinable public var count: Int { storage.pointee.used }

    /// The first unencodable operand met in this pass, if any.
    public var poisoned: String? { storage.pointee.poisoned }

    /// Empties the buffer for the next pass, keeping its storage.
    public func reset() {
        storage.pointee.used = 0
        storage.pointee.poisoned = nil
    }

    /// Appends one byte.
    @inlinable public func byte(_ value: UInt8) { view.byte(value) }
    /// Appends two bytes.
    @inlinable public func bytes(_ b0: UInt8, _ b1: UInt8) { view.bytes(b0, b1) }
    /// Appends a 32-bit value, little-endian.
    @inlinable public func uint32(_ value: UInt32) { view.uint32(value) }
    /// Overwrites `value` at `offset` in `size` bytes, little-endian.
    @inlinable public func patch(at offset: Int, value: UInt64, size: Int) { view.patch(at: offset, value: value, size: size) }
    /// Records that an operand could not be encoded. The first reason wins.
    public func poison(_ reason: @autoclosure () -> String) { view.poison(reason()) }

    /// The byte at `offset` (tests, dumps).
    public subscript(offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < count, "offset outside the emitted code")
        return storage.pointee.base[offset]
    }

    /// Reads `size` bytes at `offset` as a little-endian value (fixed-width
    /// backends merge a displacement into an instruction word).
    public func read(at offset: Int, size: Int) -> UInt64 {
        precondition(offset >= 0 && offset + size <= count, "read outside the emitted code")
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(storage.pointee.base[offset + i]) << (8 * UInt64(i)) }
        return value
    }

    /// A copy of the emitted bytes.
    public var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: storage.pointee.base, count: count))
    }
}

/// A non-owning view of a `CodeBuffer`, what encoders write through: a
/// pointer to the buffer's state, so emitting costs no retain or release.
/// Valid while the buffer lives (the driver keeps it for the whole compile).
public struct CodeView {
    @usableFromInline let storage: UnsafeMutablePointer<CodeBuffer.Storage>

    @inlinable init(storage: UnsafeMutablePointer<CodeBuffer.Storage>) { self.storage = storage }

    /// Bytes emitted so far in this pass; the offset of the next byte.
    @inlinable public var count: Int { storage.pointee.used }

    @usableFromInline @inline(never)
    func grow(to needed: Int) {
        var newCapacity = storage.pointee.capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: storage.pointee.base, count: storage.pointee.used)
        storage.pointee.base.deallocate()
        storage.pointee.base = newBase
        storage.pointee.capacity = newCapacity
    }

    /// Room for `n` bytes at the end; returns where they go and advances.
    @inlinable @inline(__always)
    func claim(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        let s = storage
        if s.pointee.used + n > s.pointee.capacity { grow(to: s.pointee.used + n) }
        let p = s.pointee.base + s.pointee.used
        s.pointee.used += n
        return p
    }

    /// Appends one byte.
    @inlinable @inline(__always)
    public func byte(_ value: UInt8) { claim(1).pointee = value }

    /// Appends the low `count` (at most 8) bytes of `packed`, first byte in
    /// the lowest bits: a whole short instruction in one store.
    @inlinable @inline(__always)
    public func append(packed: UInt64, count n: Int) {
        let s = storage
        if s.pointee.used + 8 > s.pointee.capacity { grow(to: s.pointee.used + 8) }
        UnsafeMutableRawPointer(s.pointee.base + s.pointee.used).storeBytes(of: packed.littleEndian, as: UInt64.self)
        s.pointee.used += n
    }

    /// Appends two bytes.
    @inlinable @inline(__always)
    public func bytes(_ b0: UInt8, _ b1: UInt8) {
        let p = claim(2)
        p[0] = b0
        p[1] = b1
    }

    /// Appends three bytes.
    @inlinable @inline(__always)
    public func bytes(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) {
        let p = claim(3)
        p[0] = b0
        p[1] = b1
        p[2] = b2
    }

    /// Appends a 16-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint16(_ value: UInt16) {
        UnsafeMutableRawPointer(claim(2)).storeBytes(of: value.littleEndian, as: UInt16.self)
    }

    /// Appends a 32-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint32(_ value: UInt32) {
        UnsafeMutableRawPointer(claim(4)).storeBytes(of: value.littleEndian, as: UInt32.self)
    }

    /// Appends a 32-bit word of a fixed-width instruction set, little-endian.
    @inlinable @inline(__always)
    public func word(_ value: UInt32) { uint32(value) }

    /// Appends a 64-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint64(_ value: UInt64) {
        UnsafeMutableRawPointer(claim(8)).storeBytes(of: value.littleEndian, as: UInt64.self)
    }

    /// Overwrites `value` at `offset`, little-endian, in `size` bytes (1, 2, 4 or 8):
    /// how fixups fill in displacements once labels are placed.
    @inlinable @inline(__always)
    public func patch(at offset: Int, value: UInt64, size: Int) {
        precondition(offset >= 0 && offset + size <= count, "patch outside the emitted code")
        let p = UnsafeMutableRawPointer(storage.pointee.base) + offset
        switch size {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
        default: p.storeBytes(of: value.littleEndian, as: UInt64.self)
        }
    }

    /// Records that an operand could not be encoded. The first reason wins.
    public func poison(_ reason: @autoclosure () -> String) {
        if storage.pointee.poisoned == nil { storage.pointee.poisoned = reason() }
    }
}
