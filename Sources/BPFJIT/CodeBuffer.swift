/// The bytes of one pass of a JIT: a growable buffer reused from pass to pass.
///
/// Emitting must cost no allocation per instruction (the compile-throughput
/// target is millions of BPF instructions per second), so the buffer keeps its
/// storage between passes and writes through a raw pointer. This is one of the
/// few types in BPFJIT that touch unsafe pointers.
///
/// An encoder that meets an operand it cannot encode calls `poison(_:)` and
/// carries on emitting something of the right shape; the driver checks
/// `poisoned` after every pass and turns it into an error, so a bad operand is
/// never silently truncated (the kernel's "poison and validate").
public final class CodeBuffer {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var used: Int = 0
    /// Bytes emitted so far in this pass; the offset of the next byte.
    @inlinable public var count: Int { used }
    /// The first unencodable operand met in this pass, if any.
    public private(set) var poisoned: String?

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Empties the buffer for the next pass, keeping its storage.
    public func reset() {
        used = 0
        poisoned = nil
    }

    /// Makes room for `extra` more bytes without a reallocation later.
    public func reserve(_ extra: Int) {
        if used + extra > capacity { grow(to: used + extra) }
    }

    @usableFromInline @inline(never)
    func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: used)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends one byte.
    @inlinable @inline(__always)
    public func byte(_ value: UInt8) {
        if used == capacity { grow(to: used + 1) }
        base[used] = value
        used += 1
    }

    /// Appends two bytes.
    @inlinable @inline(__always)
    public func bytes(_ b0: UInt8, _ b1: UInt8) {
        if used + 2 > capacity { grow(to: used + 2) }
        base[used] = b0
        base[used + 1] = b1
        used += 2
    }

    /// Appends three bytes.
    @inlinable @inline(__always)
    public func bytes(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) {
        if used + 3 > capacity { grow(to: used + 3) }
        base[used] = b0
        base[used + 1] = b1
        base[used + 2] = b2
        used += 3
    }

    /// Appends a 16-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint16(_ value: UInt16) {
        bytes(UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8))
    }

    /// Appends a 32-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint32(_ value: UInt32) {
        if used + 4 > capacity { grow(to: used + 4) }
        (UnsafeMutableRawPointer(base) + used).storeBytes(of: value.littleEndian, as: UInt32.self)
        used += 4
    }

    /// Appends a 32-bit word of a fixed-width instruction set, little-endian.
    @inlinable @inline(__always)
    public func word(_ value: UInt32) { uint32(value) }

    /// Appends a 64-bit value, little-endian.
    @inlinable @inline(__always)
    public func uint64(_ value: UInt64) {
        if used + 8 > capacity { grow(to: used + 8) }
        (UnsafeMutableRawPointer(base) + used).storeBytes(of: value.littleEndian, as: UInt64.self)
        used += 8
    }

    /// The byte at `offset` (tests, dumps).
    public subscript(offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < used, "offset outside the emitted code")
        return base[offset]
    }

    /// Overwrites `value` at `offset`, little-endian, in `size` bytes (1, 2, 4 or 8):
    /// how fixups fill in displacements once labels are placed.
    @inlinable @inline(__always)
    public func patch(at offset: Int, value: UInt64, size: Int) {
        precondition(offset >= 0 && offset + size <= used, "patch outside the emitted code")
        let p = UnsafeMutableRawPointer(base) + offset
        switch size {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
        default: p.storeBytes(of: value.littleEndian, as: UInt64.self)
        }
    }

    /// Reads `size` bytes at `offset` as a little-endian value (fixed-width
    /// backends merge a displacement into an instruction word).
    public func read(at offset: Int, size: Int) -> UInt64 {
        precondition(offset >= 0 && offset + size <= used, "read outside the emitted code")
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(base[offset + i]) << (8 * UInt64(i)) }
        return value
    }

    /// Records that an operand could not be encoded. The first reason wins.
    public func poison(_ reason: @autoclosure () -> String) {
        if poisoned == nil { poisoned = reason() }
    }

    /// A copy of the emitted bytes.
    public var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: base, count: used))
    }
}
