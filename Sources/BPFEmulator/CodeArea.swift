import Synchronization

/// Where a program image is placed relative to the machine's helper trampolines.
public enum ImagePlacement: Hashable, Sendable {
    /// In the code area right after the trampolines: within reach of every
    /// target's direct call (arm64 `bl` ±128 MiB, arm32 `bl` ±32 MiB, MIPS
    /// `jal` within the same 256 MiB segment) for the first megabyte even of
    /// RISC-V's `jal` (±1 MiB).
    case nearHelpers
    /// At least 1 GiB away from the trampolines, out of every direct call's
    /// range, so that a backend must call helpers indirectly.
    case farFromHelpers
    /// 16 MiB and more from the trampolines but well within 2 GiB (16–24 MiB
    /// on 64-bit machines, 128–144 MiB on 32-bit ones): beyond RISC-V's `jal`
    /// (±1 MiB) but within a pc-relative pair's ±2 GiB (RISC-V `auipc` +
    /// `jalr`), so that the middle form of a helper call runs.
    case beyondShortCalls
}

/// Room for one program image at an address fixed before the image is
/// written (the JIT needs the address to decide each helper call's form).
/// The room is given back when the reservation is released.
public final class ImageReservation: Sendable {
    /// The image's first byte (page aligned).
    public let address: UInt64
    /// Bytes reserved (a whole number of pages).
    public let size: Int
    public let placement: ImagePlacement
    private let area: CodeArea

    init(address: UInt64, size: Int, placement: ImagePlacement, area: CodeArea) {
        self.address = address
        self.size = size
        self.placement = placement
        self.area = area
    }

    deinit { area.release(address) }
}

/// A first-fit allocator of whole pages within one address range. Images
/// get whole pages so that each program's engines map only its own code.
final class CodeArea: Sendable {
    let range: Range<UInt64>
    /// Keeps the host addresses free under identity mapping.
    private let reservation: AddressReservation?
    /// Allocated ranges, sorted by start.
    private let allocated = Mutex<[Range<UInt64>]>([])

    init(range: Range<UInt64>, reservation: AddressReservation?) {
        self.range = range
        self.reservation = reservation
    }

    func reserve(size: Int, placement: ImagePlacement) throws(EmulatorError) -> ImageReservation {
        guard size > 0 else { throw .invalidImage("an image needs at least one byte") }
        let length = UInt64(EmulatorPage.roundUp(size))
        let start: UInt64? = allocated.withLock { ranges in
            var candidate = range.lowerBound
            var index = 0
            while index < ranges.count, ranges[index].lowerBound < candidate + length {
                candidate = max(candidate, ranges[index].upperBound)
                index += 1
            }
            guard candidate + length <= range.upperBound else { return nil }
            ranges.insert(candidate..<candidate + length, at: index)
            return candidate
        }
        guard let start else {
            let area = String(range.lowerBound, radix: 16)
            throw .addressSpaceExhausted("no room for an image of \(size) bytes in the code area at 0x\(area)")
        }
        return ImageReservation(address: start, size: Int(length), placement: placement, area: self)
    }

    fileprivate func release(_ address: UInt64) {
        allocated.withLock { ranges in
            ranges.removeAll { $0.lowerBound == address }
        }
    }
}
