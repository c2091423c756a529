import BPFEmulator
import BPFISA
import BPFRuntime
import Testing

/// What a shadow page shows of its host page: the run's memory and nothing
/// else. The rest of a region's page is other heap objects (or freed
/// memory), which emulated code reading past a region must never see, and
/// memory a resolver admits is shown exactly as far as it reaches at the
/// moment, also when a call moved its end.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct ShadowSpanTests {
    /// Loads the 32-bit word at arg1 + `offset` and returns it (zero-extended).
    static func load(offset: Int, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "ldr w0, [x0, #\(offset)]\nret"
        case "riscv64": "lwu a0, \(offset)(a0)\nret"
        case "arm32": "ldr r0, [r0, #\(offset)]\nmov r1, #0\nbx lr"
        default:
            "lw \(TestPrograms.mips(a)!.result.lo), \(offset)(\(TestPrograms.mips(a)!.arg1.lo))\njr $ra\n"
                + "move \(TestPrograms.mips(a)!.result.hi), $zero"
        }
    }

    /// The word `bytes` make in a byte order.
    static func word(_ bytes: [UInt8], _ order: ByteOrder) -> UInt64 {
        let ordered = order == .big ? bytes : bytes.reversed()
        return ordered.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Host memory holding a whole page, every byte nonzero (the byte at
    /// page + k is 0xA0 + k % 16): the page's address and its offset.
    static func hostPages() -> (memory: GuestMemory, page: UInt64, offset: Int) {
        let memory = GuestMemory(count: 3 * 4096)
        let page = (memory.address + 4095) & ~4095, offset = Int(page - memory.address)
        memory.write((0..<3 * 4096).map { UInt8(0xA0 + (($0 - offset) % 16 + 16) % 16) }, at: 0)
        return (memory, page, offset)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func hostBytesSharingARegionsPageAreNeitherSeenNorWritten(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (memory, page, offset) = Self.hostPages()
        // A 30-byte region 64 bytes into the page: everything else on it is the host's.
        let start = page + 64
        memory.write((1...30).map { UInt8($0) }, at: offset + 64)
        let regions = MemoryRegions([MemoryRegion(start: start, count: 30, writable: true, kind: .context)])

        let inside = try Harness.program(Self.load(offset: 24, architecture), on: machine)
        #expect(try inside.run(arguments: [.hostPointer(start)], regions: regions).value
            == Self.word([25, 26, 27, 28], architecture.byteOrder))
        // The word straddling the region's end: its last two bytes are outside.
        let straddling = try Harness.program(Self.load(offset: 28, architecture), on: machine)
        #expect(try straddling.run(arguments: [.hostPointer(start)], regions: regions).value
            == Self.word([29, 30, 0, 0], architecture.byteOrder), "host bytes past the region's end were visible")
        // Wholly outside the region, on its page (before and after it).
        for distance in [100, 2000] {
            let outside = try Harness.program(Self.load(offset: distance, architecture), on: machine)
            #expect(try outside.run(arguments: [.hostPointer(start)], regions: regions).value == 0,
                    "the host's bytes \(distance) bytes past the region were visible")
        }
        let before = try Harness.program(Self.load(offset: 0, architecture), on: machine)
        let low = MemoryRegions([MemoryRegion(start: page + 4000, count: 16, writable: true, kind: .context)])
        #expect(try before.run(arguments: [.hostPointer(page + 4000)], regions: low).value == Self.word([0xA0, 0xA1, 0xA2, 0xA3], architecture.byteOrder),
                "control: the region's own bytes")

        // A store next to the region lands in the (writable) shadow, is refused, and never reaches the host.
        let store = try Harness.program(TestPrograms.store(offset: 40, architecture), on: machine)
        let error = Harness.error { () throws(ExecutionError) in
            try store.run(arguments: [.hostPointer(start), .value(0x0102_0304)], regions: regions)
        }
        guard case .outOfBounds(_, start + 40, 4, true) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(memory.read(at: offset + 104, count: 4) == [0xA8, 0xA9, 0xAA, 0xAB])
        #expect(memory.read(at: offset + 64, count: 30) == (1...30).map { UInt8($0) })
    }

    /// A resolver region on a page a static region already mapped (as an
    /// XDP packet may share its page with the context) whose end a helper
    /// moves, as `bpf_xdp_adjust_tail` does: before the call the bytes past
    /// the old end show as zero; after it they are the host's and writable.
    /// With the resolver's `extents` and without (the emulator then probes).
    @Test(arguments: EmulatedArchitecture.all, [true, false])
    func aRegionAHelperGrowsIsSeenWholeAfterTheCallOnly(_ architecture: EmulatedArchitecture, withExtents: Bool) throws {
        let (memory, page, offset) = Self.hostPages()
        let packet = page + 256
        // The packet's end lives in host memory the helper changes (like data_end in the context).
        let end = GuestMemory(count: 8)
        end.store(packet + 64, at: 0)
        let resolver: @Sendable (UInt64, Int, Bool) -> Bool = { address, size, _ in
            let high = end.load(UInt64.self, at: 0)
            return address >= packet && address <= high && UInt64(size) <= high - address
        }
        let extents: @Sendable (UInt64, UInt64) -> [Range<UInt64>] = { _, _ in [packet..<end.load(UInt64.self, at: 0)] }
        let regions = MemoryRegions([MemoryRegion(start: page, count: 32, writable: false, kind: .context)], resolver: resolver,
                                    extents: withExtents ? extents : nil)
        let target = packet + 96
        memory.write(Harness.bytes(41, architecture.byteOrder), at: offset + 352)

        // Before the call: the word 96 bytes into the packet is past its end.
        let reader = try Harness.program(Self.load(offset: 352, architecture), on: try Harness.machine(architecture))
        #expect(try reader.run(arguments: [.hostPointer(page)], regions: regions).value == 0, "bytes past the packet's end were visible")

        let grow = Helper(id: 1, name: "test_grow", prototype: HelperPrototype([], returns: .mapValueOrNull)) { _ throws(HelperError) in
            end.store(packet + 128, at: 0)
            return target
        }
        let machine = try Harness.machine(architecture, helpers: [grow])
        let program = try Harness.program(TestPrograms.lookupAndIncrement(try machine.helperAddress(for: 1), architecture), on: machine)
        #expect(try program.run(regions: regions).value == 41, "the grown packet's bytes were not shown")
        #expect(Harness.word(memory, at: offset + 352, architecture.byteOrder) == 42, "the store to the grown packet was lost")
        // Bytes past the new end stay the host's own.
        #expect(memory.read(at: offset + 384, count: 4) == [0xA0, 0xA1, 0xA2, 0xA3])
    }

    /// Map values in a slab whose elements are padded (12 usable bytes in
    /// 16), found through the resolver and mapped on first touch: the
    /// padding and the rest of the page show as zero.
    @Test(arguments: [EmulatedArchitecture.arm64, .riscv64], [true, false])
    func paddingBetweenMapValuesIsNotShown(_ architecture: EmulatedArchitecture, withExtents: Bool) throws {
        let machine = try Harness.machine(architecture)
        let (memory, page, _) = Self.hostPages()
        defer { withExtendedLifetime(memory) {} }
        let slab = page + 1024, count: UInt64 = 8
        let resolver: @Sendable (UInt64, Int, Bool) -> Bool = { address, size, _ in
            guard address >= slab, address < slab + 16 * count else { return false }
            return (address - slab) % 16 + UInt64(size) <= 12
        }
        let extents: @Sendable (UInt64, UInt64) -> [Range<UInt64>] = { _, _ in
            (0..<count).map { slab + 16 * $0..<slab + 16 * $0 + 12 }
        }
        let regions = MemoryRegions([], resolver: resolver, extents: withExtents ? extents : nil)
        let value = slab + 32
        // The first load maps the value's page; the second reads another byte of it.
        let pair = try Harness.program(Self.loadTwice(architecture), on: machine)
        #expect(try pair.run(arguments: [.value(value), .value(value + 8)], regions: regions).value
            == Self.word([0xA8, 0xA9, 0xAA, 0xAB], architecture.byteOrder), "control: the value's own bytes")
        for (address, what) in [(value + 12, "the padding after a value"), (page + 16, "the page below the slab"),
                                (slab + 16 * count, "the page past the slab")] {
            #expect(try pair.run(arguments: [.value(value), .value(address)], regions: regions).value == 0, "\(what) was visible")
        }
    }

    /// Loads the word at arg1 (which maps its page), then returns the word at arg2.
    static func loadTwice(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "ldr w9, [x0]\nldr w0, [x1]\nret"
        default: "lwu t0, 0(a0)\nlwu a0, 0(a1)\nret"
        }
    }
}
