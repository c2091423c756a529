import BPFISA
import Glibc

/// The emulator's page: the granularity of every emulated mapping. Unicorn
/// pages are 4 KiB or smaller on every target, so 4 KiB-aligned mappings
/// are valid on all of them.
enum EmulatorPage {
    static let size = 4096
    static let mask = UInt64(size - 1)

    static func floor(_ address: UInt64) -> UInt64 { address & ~mask }
    static func ceil(_ address: UInt64) -> UInt64 { (address &+ mask) & ~mask }
    static func roundUp(_ count: Int) -> Int { (count + size - 1) & ~(size - 1) }
}

/// Page-aligned host memory that BPFKit owns and the emulator maps directly
/// (`uc_mem_map_ptr`): program images, trampoline pages, stacks and shadow
/// pages. Owning it is what makes direct mapping safe: nothing else lives
/// in these pages, and they stay put until the owner is released.
final class HostPages: @unchecked Sendable {
    /// First usable byte (page aligned).
    let base: UnsafeMutableRawPointer
    /// Usable bytes (a whole number of pages).
    let count: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappingLength: Int

    /// Zero-filled read-write pages. `guardBelow` inaccessible bytes (whole
    /// pages) sit under them so that no host data can ever be adjacent:
    /// under identity mapping a stack overflow then faults in emulation.
    init(count: Int, guardBelow: Int = 0) throws(EmulatorError) {
        let length = EmulatorPage.roundUp(max(count, 1))
        let guardLength = EmulatorPage.roundUp(guardBelow)
        guard let raw = mmap(nil, length + guardLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else {
            throw .systemCall("mmap", errno: errno)
        }
        if guardLength > 0, mprotect(raw, guardLength, PROT_NONE) != 0 {
            let error = errno
            munmap(raw, length + guardLength)
            throw .systemCall("mprotect", errno: error)
        }
        mapping = raw
        mappingLength = length + guardLength
        base = raw + guardLength
        self.count = length
    }

    deinit { munmap(mapping, mappingLength) }

    var address: UInt64 { UInt64(UInt(bitPattern: base)) }

    /// Fills the pages with a repeated instruction pattern.
    func fill(with pattern: [UInt8]) {
        pattern.withUnsafeBytes { source in
            var offset = 0
            while offset + pattern.count <= count {
                (base + offset).copyMemory(from: source.baseAddress!, byteCount: pattern.count)
                offset += pattern.count
            }
        }
    }

    /// A copy of `count` bytes at `offset`.
    func read(at offset: Int, count: Int) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count, "read outside host pages")
        return Array(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// The 8 bytes at `offset` as a 64-bit value stored in `order`.
    func load(at offset: Int, _ order: ByteOrder) -> UInt64 {
        precondition(offset >= 0 && offset + 8 <= count, "load outside host pages")
        let raw = (base + offset).loadUnaligned(as: UInt64.self)
        return order == .big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }

    /// Stores a 64-bit value at `offset` in `order`.
    func store(_ value: UInt64, at offset: Int, _ order: ByteOrder) {
        precondition(offset >= 0 && offset + 8 <= count, "store outside host pages")
        (base + offset).storeBytes(of: order == .big ? value.bigEndian : value.littleEndian, toByteOffset: 0, as: UInt64.self)
    }

    /// Zeroes every byte: the pages are given back to the kernel, which
    /// supplies zero-filled ones where they are next touched.
    func zero() {
        if madvise(base, count, MADV_DONTNEED) != 0 { memset(base, 0, count) }
    }

    /// Copies bytes in at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= count, "write outside host pages")
        bytes.withUnsafeBytes { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
}

/// A range of host virtual addresses held inaccessible (PROT_NONE, no
/// memory committed) so that the host never places data there.
///
/// Under identity mapping the emulator puts code and trampolines at
/// addresses that must not collide with any memory a program is later given;
/// reserving them in the host makes that a guarantee instead of a hope.
final class AddressReservation: Sendable {
    let address: UInt64
    let count: Int

    /// Reserves `count` bytes wherever the kernel likes.
    init(count: Int) throws(EmulatorError) {
        let length = EmulatorPage.roundUp(count)
        guard let raw = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              raw != MAP_FAILED else {
            throw .systemCall("mmap", errno: errno)
        }
        address = UInt64(UInt(bitPattern: raw))
        self.count = length
    }

    /// Reserves `count` bytes exactly at the first free candidate address.
    init(count: Int, atOneOf candidates: [UInt64]) throws(EmulatorError) {
        let length = EmulatorPage.roundUp(count)
        for candidate in candidates {
            guard let hint = UnsafeMutableRawPointer(bitPattern: UInt(candidate)) else { continue }
            let raw = mmap(hint, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0)
            guard let raw, raw != MAP_FAILED else { continue }
            guard raw == hint else {
                // A kernel older than 4.17 treats the flag as a hint only.
                munmap(raw, length)
                continue
            }
            address = candidate
            self.count = length
            return
        }
        throw .addressSpaceExhausted("no free host range of \(length) bytes at any of \(candidates.count) candidate addresses")
    }

    deinit { munmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), count) }

    var range: Range<UInt64> { address..<address + UInt64(count) }
}
