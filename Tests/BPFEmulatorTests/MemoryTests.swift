import BPFEmulator
import BPFRuntime
import Testing

/// Memory found at run time (map values through the resolver) and memory
/// shared with helpers (the program's own stack).
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct MemoryTests {
    /// A map value: host memory that is in no static region, which the
    /// resolver admits (as the runtime's maps do for their values).
    static func mapValue() -> (GuestMemory, MemoryRegions) {
        let value = GuestMemory(count: 8)
        let start = value.address
        let regions = MemoryRegions([]) { address, size, _ in
            address >= start && address + UInt64(size) <= start + 8
        }
        return (value, regions)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func aMapValueAHelperReturnsIsMappedOnFirstTouchAndWrittenBack(_ architecture: EmulatedArchitecture) throws {
        let (value, regions) = Self.mapValue()
        value.write(Harness.bytes(41, architecture.byteOrder), at: 0)
        let lookup = Helper(id: 1, name: "test_lookup",
                            prototype: HelperPrototype([], returns: .mapValueOrNull)) { _ throws(HelperError) in value.address }
        let machine = try Harness.machine(architecture, helpers: [lookup])
        let program = try Harness.program(TestPrograms.lookupAndIncrement(try machine.helperAddress(for: 1), architecture), on: machine)
        let run = try program.run(regions: regions)
        #expect(run.value == 41)
        #expect(Harness.word(value, at: 0, architecture.byteOrder) == 42, "the increment reached the host")
        #expect(try program.run(regions: regions).value == 42, "the next run sees it")
        #expect(Harness.word(value, at: 0, architecture.byteOrder) == 43)
    }

    /// A static read-only region maps its page read-only; a map value on the
    /// same page is writable through the resolver. A program that reads the
    /// page and then stores to the value (plainly or atomically) must see
    /// every run's store land: Unicorn 2.0.1 discards a store resumed after
    /// its protection fault was resolved against a cached read-only
    /// translation, so the machine restarts the instruction instead.
    @Test func storesToResolverMemoryOnAReadOnlyPageLandEveryRun() throws {
        let machine = try Harness.machine(.arm64)
        let memory = GuestMemory(count: 2 * 4096)
        let page = (memory.address + 4095) & ~4095, offset = Int(page - memory.address)
        let target = page + 64
        let regions = MemoryRegions([MemoryRegion(start: page, count: 32, writable: false, kind: .context)]) { address, size, _ in
            address >= target && address + UInt64(size) <= target + 8
        }
        // x0: the read-only region, x1: the value, x2: the target.
        for (name, store) in [("str", "str x1, [x2]"), ("ldaddal", "ldaddal x1, xzr, [x2]"), ("stxr", "1: ldxr x9, [x2]\nadd x9, x9, x1\nstxr w10, x9, [x2]\ncbnz w10, 1b")] {
            let program = try Harness.program("ldr x9, [x0]\n\(store)\nmov x0, #0\nret", on: machine)
            memory.store(UInt64(0), at: offset + 64)
            for run in 1...5 {
                _ = try program.run(arguments: [.value(page), .value(1), .value(target)], regions: regions)
                #expect(memory.load(UInt64.self, at: offset + 64) == (name == "str" ? 1 : UInt64(run)), "\(name), run \(run)")
            }
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func aHelperCanReadTheProgramsStack(_ architecture: EmulatedArchitecture) throws {
        let readWord = Helper(id: 2, name: "test_read",
                              prototype: HelperPrototype([.scalar(bits: 64), .pointer(readOnly: true)], returns: .scalar(bits: 64))) {
            call throws(HelperError) in
            let raw = try call.memory.load(UInt32.self, at: call.argument(2))
            return UInt64(architecture.byteOrder == .big ? UInt32(bigEndian: raw) : raw) + 1
        }
        let machine = try Harness.machine(architecture, helpers: [readWord])
        let program = try Harness.program(TestPrograms.passStackPointer(try machine.helperAddress(for: 2), architecture), on: machine)
        #expect(try program.run().value == 0x56)
    }

    @Test func underIdentityAPointerArgumentReachesAMapValueThroughTheResolver() throws {
        let (value, regions) = Self.mapValue()
        value.write(Harness.bytes(7, .little), at: 0)
        let machine = try Harness.machine(.arm64)
        // Loads arg1's word, stores it plus one at arg2 + 16: both pointers into the value.
        let program = try Harness.program("ldr w9, [x0]\nadd w10, w9, #1\nstr w10, [x1]\nmov w0, w9\nret", on: machine)
        let run = try program.run(arguments: [.value(value.address), .value(value.address + 4)], regions: regions)
        #expect(run.value == 7)
        #expect(Harness.word(value, at: 4, .little) == 8)
        // The resolver ends where the value ends: a store past it is refused.
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.value(value.address), .value(value.address + 8)], regions: regions)
        }
        guard case .outOfBounds(_, let address, _, true) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(address == value.address + 8)
    }

    @Test func aHelperReturningMemoryOutsideTheRegionsFailsOnA32BitTarget() throws {
        let stray = GuestMemory(count: 8)
        let lookup = Helper(id: 1, name: "test_stray",
                            prototype: HelperPrototype([], returns: .mapValueOrNull)) { _ throws(HelperError) in stray.address }
        let machine = try Harness.machine(.mips32le, helpers: [lookup])
        let program = try Harness.program(TestPrograms.lookupAndIncrement(try machine.helperAddress(for: 1), .mips32le), on: machine)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        guard case .helperFailed(_, 1, let message) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(message.contains("outside the program's memory"))
    }

    @Test func regionsSharingAPageKeepTheirOwnPermissions() throws {
        let machine = try Harness.machine(.riscv64)
        let program = try Harness.program(TestPrograms.store(offset: 0, .riscv64), on: machine)
        // Two regions in one page: the first read-only, the second writable.
        let memory = GuestMemory(count: 2 * 4096)
        let page = Int((memory.address + 4095) & ~4095 - memory.address)
        let start = memory.address + UInt64(page)
        let regions = MemoryRegions([
            MemoryRegion(start: start, count: 32, writable: false, kind: .context),
            MemoryRegion(start: start + 32, count: 32, writable: true, kind: .packet),
        ])
        _ = try program.run(arguments: [.hostPointer(start + 32), .value(0x0102_0304)], regions: regions)
        #expect(memory.load(UInt32.self, at: page + 32) == 0x0102_0304)
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.hostPointer(start + 8), .value(0x0506_0708)], regions: regions)
        }
        // The page is writable, so the store lands in the shadow and is refused at
        // write-back: the pc is the last instruction's (byte offset 8, without a pc map).
        #expect(error == .outOfBounds(pc: 8, address: start + 8, size: 4, write: true))
        #expect(memory.load(UInt32.self, at: page + 8) == 0)
    }

    /// Resolver memory (a packet, a map value) that crosses a page boundary:
    /// once the first page is mapped, an access spanning both faults on the
    /// second page only, and the emulator reports it at that page's first
    /// byte with the whole access's size. It must map the page and complete
    /// the access, not call it out of bounds; an access that starts past the
    /// region must still be refused.
    @Test func anAccessCrossingIntoAnUnmappedPageOfItsRegionCompletes() throws {
        let machine = try Harness.machine(.arm64)
        let memory = GuestMemory(count: 3 * 4096)
        let second = (memory.address + 4095) & ~4095 + 4096, offset = Int(second - memory.address)
        let start = second - 4
        for index in 0..<8 { memory.store(UInt8(0x11 * (index + 1)), at: offset - 4 + index) }
        let regions = MemoryRegions([]) { address, size, _ in
            address >= start && address + UInt64(size) <= start + 8
        }
        // A byte load maps the first page; the 8-byte load then crosses into the second.
        let program = try Harness.program("ldrb w9, [x0]\nldr x0, [x0, x1]\nret", on: machine)
        let run = try program.run(arguments: [.value(start), .value(0)], regions: regions)
        #expect(run.value == 0x8877_6655_4433_2211)
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.value(start), .value(8)], regions: regions)
        }
        guard case .outOfBounds = error else {
            Issue.record("a load just past the region: \(String(describing: error))")
            return
        }
    }
}
