import Glibc

/// The emulator's copies of host pages that hold program memory (input,
/// context, packet, map values): the one place that moves bytes between
/// host memory and what the emulated CPU sees.
///
/// Why copies and not the host pages themselves: a region is rarely page
/// aligned, and the rest of its page is host data (other heap objects, some
/// of them freed) that a buggy JIT must neither see nor change. Each shadow
/// is a private page mapped at the region's guest address, plus a snapshot
/// of what was copied in. A shadow holds only the page's *spans*: the bytes
/// that are the run's memory (the regions and what the resolver admits that
/// meet the page); every other byte of it is zero and is never read from or
/// written to the host. Writing back applies only the bytes the program
/// changed, and only inside the spans where the regions permit a write;
/// anything else is reported as an out-of-bounds write and never reaches
/// the host. The spans are recomputed after every call (a helper may move a
/// packet's ends or reallocate it), and a page whose spans changed is
/// copied in again. Host memory stays
/// authoritative: it is copied in before the run and after every helper call
/// (a helper may change it), and written back before every helper call and
/// at the end of the run.
///
/// Mappings persist between runs of the same engine when the next run uses
/// the same pages (remapping makes Unicorn drop translated code, costing
/// about 15 µs per run); pages a run no longer needs are unmapped.
final class ShadowMemory {
    /// A page to map: the host page it mirrors, whether the program may
    /// write it, and its spans (sorted, disjoint offsets in the page).
    struct Plan {
        var host: UInt64
        var writable: Bool
        var spans: [Range<Int>] = []
    }

    private struct Page {
        /// The host page it mirrors.
        let host: UInt64
        var writable: Bool
        /// The bytes of the page that are program memory (sorted, disjoint
        /// offsets): the only ones copied in, compared and written back.
        var spans: [Range<Int>]
        /// The live page (mapped into the emulator), the snapshot, and the
        /// host page as last copied in or written back (`hostImage`).
        let buffer: UnsafeMutableRawPointer

        var live: UnsafeMutableRawPointer { buffer }
        var snapshot: UnsafeMutableRawPointer { buffer + EmulatorPage.size }
        /// What the host page held when the shadow last agreed with it:
        /// unlike the snapshot, never overlaid (`overlay`).
        var hostImage: UnsafeMutableRawPointer { buffer + 2 * EmulatorPage.size }
    }

    private let unicorn: UnicornHandle
    /// By guest page address.
    private var pages: [UInt64: Page] = [:]
    private var spare: [UnsafeMutableRawPointer] = []

    init(unicorn: UnicornHandle) { self.unicorn = unicorn }

    deinit {
        for (guest, page) in pages {
            try? unicorn.unmap(guest, count: EmulatorPage.size)
            page.buffer.deallocate()
        }
        for buffer in spare { buffer.deallocate() }
    }

    func isMapped(guestPage: UInt64) -> Bool { pages[guestPage] != nil }

    func isWritable(guestPage: UInt64) -> Bool { pages[guestPage]?.writable ?? false }

    /// Makes the mapped pages exactly `plan` (by guest page), then copies
    /// every page in from the host.
    func prepare(_ plan: [UInt64: Plan]) throws(EmulatorError) {
        for (guest, page) in pages {
            if let wanted = plan[guest], wanted.host == page.host {
                if wanted.writable != page.writable {
                    try unicorn.protect(guest, count: EmulatorPage.size, wanted.writable ? [.read, .write] : .read)
                    pages[guest]?.writable = wanted.writable
                }
                pages[guest]?.spans = wanted.spans
                continue
            }
            try unicorn.unmap(guest, count: EmulatorPage.size)
            spare.append(page.buffer)
            pages[guest] = nil
        }
        for (guest, wanted) in plan where pages[guest] == nil {
            try map(guestPage: guest, hostPage: wanted.host, writable: wanted.writable, spans: wanted.spans, copy: false)
        }
        copyIn()
    }

    /// Maps one more page during a run (memory reached through the regions'
    /// resolver), with the host's current contents of `spans`.
    func map(guestPage: UInt64, hostPage: UInt64, writable: Bool, spans: [Range<Int>], copy: Bool = true) throws(EmulatorError) {
        let buffer = spare.popLast() ?? UnsafeMutableRawPointer.allocate(byteCount: 3 * EmulatorPage.size,
                                                                         alignment: EmulatorPage.size)
        let page = Page(host: hostPage, writable: writable, spans: spans, buffer: buffer)
        if copy { copyIn(page) }
        do {
            try unicorn.map(guestPage, count: EmulatorPage.size, writable ? [.read, .write] : .read, host: page.live)
        } catch {
            spare.append(buffer)
            throw error
        }
        pages[guestPage] = page
    }

    /// Lets the program write a page it could only read so far.
    func makeWritable(guestPage: UInt64) throws(EmulatorError) {
        guard pages[guestPage] != nil else { return }
        try unicorn.protect(guestPage, count: EmulatorPage.size, [.read, .write])
        pages[guestPage]?.writable = true
    }

    /// Host → emulator, for every page.
    func copyIn() {
        for page in pages.values { copyIn(page) }
        afterCopyIn()
    }

    /// Host → emulator after a call, for the pages whose spans changed
    /// (`spans(hostPage)`, nil when the call cannot have moved any: a helper
    /// moved a packet's ends) or whose host
    /// bytes in their spans changed since they were last copied in or
    /// written back (what the call wrote, or another thread): the others
    /// still agree with the host. Only after `writeBack` succeeded, so that
    /// no page holds a write of the program not yet applied.
    func refresh(spans: ((_ hostPage: UInt64) -> [Range<Int>])?) {
        var copied = false
        for (guest, var page) in pages {
            if let now = spans?(page.host), now != page.spans {
                page.spans = now
                pages[guest] = page
            } else {
                let host = UnsafeRawPointer(bitPattern: UInt(page.host))!
                guard page.spans.contains(where: { memcmp(host + $0.lowerBound, page.hostImage + $0.lowerBound, $0.count) != 0 })
                else { continue }
            }
            copyIn(page)
            copied = true
        }
        if copied { afterCopyIn() }
    }

    /// Runs after every copy-in: the machine re-applies what it shows the
    /// program differently from host memory (translated pointer words).
    var afterCopyIn: () -> Void = {}

    /// Writes `value` into the shadow copies (live and snapshot alike, so it
    /// is never taken for a write by the program) of the 8 bytes at host
    /// address `word`, if its page is mapped.
    func overlay(word: UInt64, value: UInt64) {
        let hostPage = EmulatorPage.floor(word), offset = Int(word - hostPage)
        guard offset + 8 <= EmulatorPage.size else { return }
        for page in pages.values where page.host == hostPage {
            page.live.storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
            page.snapshot.storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
        }
    }

    private func copyIn(_ page: Page) {
        // Only the spans: the rest of the host page is other objects' (or
        // freed) memory. Everything else shows as zero.
        let host = UnsafeRawPointer(bitPattern: UInt(page.host))!
        var next = 0
        for span in page.spans {
            if span.lowerBound > next { memset(page.live + next, 0, span.lowerBound - next) }
            (page.live + span.lowerBound).copyMemory(from: host + span.lowerBound, byteCount: span.count)
            next = span.upperBound
        }
        if next < EmulatorPage.size { memset(page.live + next, 0, EmulatorPage.size - next) }
        // From the copy, not from the host again: other threads may be changing
        // the spans (a map value another run updates), and a difference between
        // two reads would look like a write by the program.
        page.snapshot.copyMemory(from: page.live, byteCount: EmulatorPage.size)
        page.hostImage.copyMemory(from: page.live, byteCount: EmulatorPage.size)
    }

    /// Emulator → host: writes every byte the program changed since the last
    /// copy-in where it lies in the page's spans and `permitsWrite(hostAddress,
    /// count)` allows it. Returns the first run of changed bytes it refused
    /// (address and length).
    func writeBack(permitsWrite: (UInt64, Int) -> Bool) -> (address: UInt64, count: Int)? {
        var refused: (address: UInt64, count: Int)?
        for page in pages.values where page.writable {
            let spans = page.spans
            /// Whether `[offset, offset + count)` lies in one span and the regions permit writing it.
            func permits(_ offset: Int, _ count: Int) -> Bool {
                spans.contains { $0.lowerBound <= offset && offset + count <= $0.upperBound }
                    && permitsWrite(page.host + UInt64(offset), count)
            }
            guard memcmp(page.live, page.snapshot, EmulatorPage.size) != 0 else { continue }
            let live = page.live.assumingMemoryBound(to: UInt8.self)
            let snapshot = page.snapshot.assumingMemoryBound(to: UInt8.self)
            let hostImage = page.hostImage.assumingMemoryBound(to: UInt8.self)
            let host = UnsafeMutablePointer<UInt8>(bitPattern: UInt(page.host))!
            func apply(_ bytes: Range<Int>) {
                for byte in bytes {
                    host[byte] = live[byte]
                    snapshot[byte] = live[byte]
                    hostImage[byte] = live[byte]
                }
            }
            var index = 0
            while index < EmulatorPage.size {
                // Unchanged blocks and words are skipped whole (a helper call writes back
                // each page the program touched; most of its bytes are the same).
                if index & 255 == 0, memcmp(page.live + index, page.snapshot + index, 256) == 0 {
                    index += 256
                    continue
                }
                if index & 7 == 0,
                   page.live.load(fromByteOffset: index, as: UInt64.self) == page.snapshot.load(fromByteOffset: index, as: UInt64.self) {
                    index += 8
                    continue
                }
                guard live[index] != snapshot[index] else { index += 1; continue }
                let start = index
                while index < EmulatorPage.size, live[index] != snapshot[index] { index += 1 }
                if permits(start, index - start) {
                    apply(start..<index)
                    continue
                }
                // Part of the run may be permitted (two regions meet inside it): go byte by byte.
                for byte in start..<index {
                    if permits(byte, 1) {
                        apply(byte..<byte + 1)
                    } else if refused == nil {
                        refused = (page.host + UInt64(byte), 1)
                    } else if let first = refused, first.address + UInt64(first.count) == page.host + UInt64(byte) {
                        refused = (first.address, first.count + 1)
                    }
                }
            }
        }
        return refused
    }
}
