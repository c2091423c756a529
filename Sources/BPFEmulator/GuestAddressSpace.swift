import BPFRuntime

/// How emulated addresses relate to host addresses.
///
/// BPFKit runs programs on real host addresses: a pointer in a register, in
/// the context or returned by a helper is a host pointer. An emulated 64-bit
/// CPU can use those addresses unchanged; a 32-bit one cannot hold an
/// x86-64 heap address (0x5555_xxxx_xxxx) in a register, so on 32-bit
/// targets host memory is placed at "guest" addresses below 2 GiB and
/// pointers crossing the boundary are translated.
public enum AddressModel: Hashable, Sendable {
    /// 64-bit targets: every emulated address is the host address.
    case identity
    /// 32-bit targets: host pages are mapped into windows of a 32-bit guest
    /// space. Entry arguments marked `.hostPointer`, helper pointer arguments
    /// and results (by the helper's prototype) are translated by the machine;
    /// pointers a backend stores in memory itself it relocates with
    /// `GuestAddressSpace.guestAddress(forHost:)`.
    case translated
}

/// The fixed guest addresses of a 32-bit machine. All below 0x8000_0000:
/// MIPS kseg0 and above are not plain RAM in Unicorn.
enum GuestLayout {
    /// 4,096 trampoline slots, followed directly by the near code area so
    /// that even RISC-V's ±1 MiB `jal` reaches the first images.
    static let trampolines: Range<UInt64> = 0x0001_0000..<0x0002_0000
    static let nearCode: Range<UInt64> = 0x0002_0000..<0x0100_0000
    /// The stack grows down from here; the page below its last is unmapped.
    static let stackTop: UInt64 = 0x0800_0000
    /// Where each run's windows onto host memory (regions, map values) are placed.
    static let windows: Range<UInt64> = 0x1000_0000..<0x5000_0000
    /// Where the machine's fixed windows are placed: memory whose guest
    /// address is compiled into code (global data loaded by `ld_imm64`),
    /// the same in every run.
    static let fixedWindows: Range<UInt64> = 0x5000_0000..<0x6000_0000
    /// Code placed beyond RISC-V's `jal` from the trampolines (and past the stack).
    static let midCode: Range<UInt64> = 0x0801_0000..<0x0900_0000
    /// Code placed out of every direct-call range of the trampolines.
    static let farCode: Range<UInt64> = 0x6000_0000..<0x7000_0000
    /// Never mapped: the guest values standing for map handles a helper
    /// returned (an inner map of a map of maps) on translated targets, whose
    /// words cannot hold a 64-bit host handle. Dereferencing one faults.
    static let handleTokens: Range<UInt64> = 0x7000_0000..<0x7100_0000
    static let handleTokenStride: UInt64 = 16
    /// Guest space reserved for each window opened on demand (a map value
    /// returned by a helper), so that pointer arithmetic within the value can
    /// cross into the next host page.
    static let dynamicWindowLength: UInt64 = 1 << 20
}

/// The correspondence between guest and host addresses for one run.
///
/// Under `.identity` it is the identity. Under `.translated` it is a list of
/// windows, each a page-aligned host range placed at a page-aligned guest
/// range, so offsets within a page (and alignment) are preserved. Static
/// regions get their windows before the run, in order of host address (the
/// layout depends only on the regions, so `EmulatedMachine.guestAddressSpace(for:)`
/// predicts it); memory reached at run time, such as a map value a helper
/// returns, gets a window when first seen.
public struct GuestAddressSpace: Sendable {
    struct Window: Hashable, Sendable {
        let host: UInt64
        let guest: UInt64
        let length: UInt64

        func contains(guest address: UInt64) -> Bool { address >= guest && address - guest < length }
        func contains(host address: UInt64) -> Bool { address >= host && address - host < length }
    }

    public let model: AddressModel
    private(set) var windows: [Window] = []
    private var next: UInt64

    init(model: AddressModel) {
        self.model = model
        next = GuestLayout.windows.lowerBound
    }

    /// The address emulated code uses for a host address, or nil when no
    /// window covers it.
    public func guestAddress(forHost host: UInt64) -> UInt64? {
        guard model == .translated else { return host }
        guard let window = windows.first(where: { $0.contains(host: host) }) else { return nil }
        return window.guest + (host - window.host)
    }

    /// The host address behind an emulated address, or nil when no window covers it.
    public func hostAddress(forGuest guest: UInt64) -> UInt64? {
        guard model == .translated else { return guest }
        guard let window = window(containingGuest: guest) else { return nil }
        return window.host + (guest - window.guest)
    }

    func window(containingGuest guest: UInt64) -> Window? {
        windows.first { $0.contains(guest: guest) }
    }

    /// Places windows for static regions: the pages each region touches,
    /// merged where they overlap or adjoin, in order of host address.
    /// Pages a window already covers (the machine's fixed windows) keep
    /// their address, so that one host page never has two guest addresses.
    mutating func place(_ regions: [MemoryRegion]) throws(EmulatorError) {
        guard model == .translated else { return }
        for span in Self.pageSpans(of: regions) {
            for piece in uncovered(span) {
                guard window(host: piece.lowerBound, length: piece.upperBound - piece.lowerBound) != nil else {
                    throw .addressSpaceExhausted("guest windows for \(regions.count) regions do not fit below 0x5000_0000")
                }
            }
        }
    }

    /// The parts of a page-aligned host range no window covers yet.
    func uncovered(_ span: Range<UInt64>) -> [Range<UInt64>] {
        var pieces: [Range<UInt64>] = []
        var page = span.lowerBound
        while page < span.upperBound {
            if guestAddress(forHost: page) == nil {
                if let last = pieces.last, last.upperBound == page {
                    pieces[pieces.count - 1] = last.lowerBound..<page + UInt64(EmulatorPage.size)
                } else {
                    pieces.append(page..<page + UInt64(EmulatorPage.size))
                }
            }
            page += UInt64(EmulatorPage.size)
        }
        return pieces
    }

    /// Adds windows whose guest addresses were fixed elsewhere (the machine's).
    mutating func addFixed(_ fixed: [Window]) {
        guard model == .translated else { return }
        windows.append(contentsOf: fixed)
    }

    /// Adds a window at a fixed guest address (the stack).
    mutating func addWindow(host: UInt64, guest: UInt64, length: UInt64) {
        windows.append(Window(host: host, guest: guest, length: length))
    }

    /// Places a new window of `length` bytes (page multiple) for the host
    /// page range starting at `host` (page aligned), leaving an unmapped guard
    /// page after it. Nil when the guest window area is full.
    @discardableResult
    mutating func window(host: UInt64, length: UInt64) -> Window? {
        guard length > 0, next + length <= GuestLayout.windows.upperBound else { return nil }
        let window = Window(host: host, guest: next, length: length)
        windows.append(window)
        next += length + UInt64(EmulatorPage.size)
        return window
    }

    /// The page-aligned host ranges covering the regions, merged.
    static func pageSpans(of regions: [MemoryRegion]) -> [Range<UInt64>] {
        let spans = regions.filter { $0.count > 0 }
            .map { EmulatorPage.floor($0.start)..<EmulatorPage.ceil($0.end) }
            .sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<UInt64>] = []
        for span in spans {
            if let last = merged.last, span.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, span.upperBound)
            } else {
                merged.append(span)
            }
        }
        return merged
    }
}
