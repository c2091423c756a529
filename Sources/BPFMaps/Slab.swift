/// Fixed storage for map values: `count` elements of `stride` bytes, allocated
/// once, zero-filled and never moved, so an address handed to a program stays
/// valid as long as the map lives (the lifetime of an element is the map's
/// concern: see `HashTable` for how freed elements are recycled).
///
/// This is the only place (with `RingBuffer`'s data area, which is a slab too)
/// where map bytes are touched through raw pointers.
public final class Slab: @unchecked Sendable {
    /// First byte (never moves): `HashTable` reads keys and values through it directly.
    let base: UnsafeMutableRawPointer
    public let count: Int
    public let stride: Int
    /// Bytes of each element that programs may touch (value size, before padding).
    public let usableSize: Int
    /// Whether programs may write the elements.
    public let writable: Bool

    public init(count: Int, stride: Int, usableSize: Int, writable: Bool) {
        precondition(count > 0 && stride > 0 && usableSize <= stride)
        self.count = count
        self.stride = stride
        self.usableSize = usableSize
        self.writable = writable
        // calloc: zeroed, 16-byte aligned, and for large maps the pages are
        // only touched when used (the kernel's maps are lazily backed too).
        guard let memory = calloc(count * stride, 1) else { fatalError("out of memory allocating \(count * stride) bytes of map storage") }
        base = memory
    }

    deinit { free(base) }

    /// Host address of element `index` (what lookups return to programs).
    @inlinable public func address(of index: Int) -> UInt64 { start + UInt64(index * stride) }

    /// Address of the first byte.
    public var start: UInt64 { UInt64(UInt(bitPattern: base)) }

    /// The element index containing `address`, if any.
    public func index(containing address: UInt64) -> Int? {
        guard address >= start, address < start + UInt64(count * stride) else { return nil }
        return Int(address - start) / stride
    }

    /// The region description the engines' memory checks use.
    public var region: SlabRegion {
        SlabRegion(start: start, count: count, stride: stride, usableSize: usableSize, writable: writable)
    }

    // MARK: Copies (lengths are checked by callers against the element size)

    func copyIn(_ source: UnsafeRawBufferPointer, to index: Int, at offset: Int = 0) {
        precondition(offset + source.count <= stride)
        guard let src = source.baseAddress, source.count > 0 else { return }
        (base + index * stride + offset).copyMemory(from: src, byteCount: source.count)
    }

    func copyIn(_ bytes: [UInt8], to index: Int, at offset: Int = 0) {
        bytes.withUnsafeBytes { copyIn($0, to: index, at: offset) }
    }

    func copyOut(_ index: Int, at offset: Int = 0, count: Int) -> [UInt8] {
        precondition(offset + count <= stride)
        return Array(UnsafeRawBufferPointer(start: base + index * stride + offset, count: count))
    }

    func copyElement(from source: Int, to destination: Int) {
        (base + destination * stride).copyMemory(from: base + source * stride, byteCount: stride)
    }

    func zero(_ index: Int) {
        (base + index * stride).initializeMemory(as: UInt8.self, repeating: 0, count: stride)
    }

    /// Whether the `count` bytes at element `index` equal `bytes`.
    func equals(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let other = bytes.baseAddress else { return bytes.count == 0 }
        return memcmp(base + index * stride, other, bytes.count) == 0
    }

    /// Whether the `count` bytes at element `index` equal those at `bytes`.
    @inline(__always)
    func equals(_ index: Int, _ bytes: UnsafeRawPointer, count: Int) -> Bool {
        memcmp(base + index * stride, bytes, count) == 0
    }

    /// A hash of the first `count` bytes of element `index` (the key hash).
    func hash(_ index: Int, count: Int) -> UInt64 {
        Slab.hash(UnsafeRawBufferPointer(start: base + index * stride, count: count))
    }

    /// A fast 64-bit hash of a key: 8 bytes at a time, multiply-rotate mixing.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h = (h << 27) | (h >> 37)
            i += 8
        }
        // The last 0–7 bytes as one little-endian word (a 4-byte load first:
        // the common u32 key costs one load, not four).
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        if i + 4 <= bytes.count {
            tail = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            shift = 32
            i += 4
        }
        while i < bytes.count { tail |= UInt64(bytes[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// Copies `count` bytes from `source` to `destination` (a value or key
    /// into its element): one move for 4 and 8 bytes, memcpy otherwise.
    @inline(__always)
    static func copy(_ destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
        switch count {
        case 8: destination.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
        case 4: destination.storeBytes(of: source.loadUnaligned(as: UInt32.self), as: UInt32.self)
        default: destination.copyMemory(from: source, byteCount: count)
        }
    }

    // MARK: Typed access for the ring buffer and descriptors

    func load<T: FixedWidthInteger>(_: T.Type, at byteOffset: Int) -> T {
        base.loadUnaligned(fromByteOffset: byteOffset, as: T.self)
    }

    func store<T: FixedWidthInteger>(_ value: T, at byteOffset: Int) {
        base.storeBytes(of: value, toByteOffset: byteOffset, as: T.self)
    }

    func copyIn(_ bytes: UnsafeRawBufferPointer, atByte offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= count * stride)
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        (base + offset).copyMemory(from: src, byteCount: bytes.count)
    }

    func copyOut(atByte offset: Int, count n: Int) -> [UInt8] {
        precondition(offset >= 0 && offset + n <= count * stride)
        return Array(UnsafeRawBufferPointer(start: base + offset, count: n))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
