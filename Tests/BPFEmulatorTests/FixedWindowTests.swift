import BPFISA
import BPFRuntime
import Testing

@testable import BPFEmulator

/// Addresses compiled into 32-bit code (global data loaded by `ld_imm64`):
/// fixed windows, the same in every run, shared with the run's regions.
@Suite struct FixedWindowTests {
    static let value: Range<UInt64> = 0x5555_0001_2f80..<0x5555_0001_3040   // 192 bytes across a page boundary

    @Test(arguments: ["arm32", "mips32le", "mips32be"])
    func translatedMachinesGiveStableGuestAddresses(name: String) throws {
        let machine = try EmulatedMachine(architecture: try #require(EmulatedArchitecture.named(name)))
        let first = try machine.fixedGuestAddress(forHost: Self.value.lowerBound + 8, in: Self.value)
        #expect(GuestLayout.fixedWindows.contains(first))
        #expect(first & 0xfff == 0xf88, "the offset within the page is kept")
        #expect(try machine.fixedGuestAddress(forHost: Self.value.lowerBound + 8, in: Self.value) == first, "asked again: the same")
        // The whole value is contiguous in the guest, across the page boundary.
        #expect(try machine.fixedGuestAddress(forHost: Self.value.upperBound - 1, in: Self.value) == first - 8 + 191)
        // Another value gets another window; the first keeps its address.
        let other: Range<UInt64> = 0x5555_0009_0000..<0x5555_0009_0010
        let second = try machine.fixedGuestAddress(forHost: other.lowerBound, in: other)
        #expect(second != first && GuestLayout.fixedWindows.contains(second))

        // A run whose regions include the value's pages sees them at the fixed
        // address (one host page, one guest address); other memory gets run windows.
        let regions = MemoryRegions([MemoryRegion(start: Self.value.lowerBound, count: 192, writable: true, kind: .other),
                                     MemoryRegion(start: 0x5555_0020_0000, count: 64, writable: true, kind: .input)])
        let space = try machine.guestAddressSpace(for: regions)
        #expect(space.guestAddress(forHost: Self.value.lowerBound + 8) == first)
        #expect(space.hostAddress(forGuest: first) == Self.value.lowerBound + 8)
        #expect(space.guestAddress(forHost: 0x5555_0020_0000) == GuestLayout.windows.lowerBound)
    }

    @Test func identityMachinesUseHostAddresses() throws {
        let machine = try EmulatedMachine(architecture: .arm64)
        #expect(try machine.fixedGuestAddress(forHost: Self.value.lowerBound + 8, in: Self.value) == Self.value.lowerBound + 8)
        let program = Program([.loadImmediate64(dst: .r1, .value(Self.value.lowerBound)), .immediate64Tail, .exit])
        #expect(try machine.translatingAddressLoads(in: program, [0: AddressLoad(object: Self.value)]) == program)
    }

    @Test func onlyTheNamedLoadsAreTranslated() throws {
        let machine = try EmulatedMachine(architecture: .arm32)
        let host = Self.value.lowerBound + 16
        let program = Program([.loadImmediate64(dst: .r1, .value(host)), .immediate64Tail,
                               .loadImmediate64(dst: .r2, .value(host)), .immediate64Tail, .exit])
        let translated = try machine.translatingAddressLoads(in: program, [0: AddressLoad(object: Self.value)])
        let guest = try machine.fixedGuestAddress(forHost: host, in: Self.value)
        #expect(translated.instructions[0] == .loadImmediate64(dst: .r1, .value(guest)))
        #expect(translated.instructions[2] == program.instructions[2], "a scalar that merely equals an address stays")
        // A slot named that holds no 64-bit load is refused with its pc.
        #expect(throws: EmulatorError.self) { try machine.translatingAddressLoads(in: program, [4: AddressLoad(object: Self.value)]) }
    }

    @Test func helperMemoryAccessTranslatesAddressesNoRegionHolds() throws {
        let memory = GuestMemory(bytes: Array("global".utf8) + [0])
        let regions = MemoryRegions([memory.region(.input)])
        let guest: UInt64 = 0x5000_0010
        let plain = MemoryAccess(regions: regions)
        #expect(throws: HelperError.self) { try plain.read(at: guest, count: 6) }
        let translating = MemoryAccess(regions: regions) { $0 >= guest && $0 - guest < 7 ? memory.address + ($0 - guest) : nil }
        #expect(try translating.read(at: guest, count: 6) == Array("global".utf8))
        #expect(translating.readCString(at: guest, limit: 64) == Array("global".utf8))
        #expect(try translating.read(at: memory.address, count: 2) == Array("gl".utf8), "host addresses still work")
        #expect(throws: HelperError.self) { try translating.read(at: guest + 4, count: 8) }   // runs past the memory
    }
}
