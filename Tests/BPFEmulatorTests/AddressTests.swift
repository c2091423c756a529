import BPFRuntime
import Testing

@testable import BPFEmulator

/// Address translation, pc maps and code placement, without running code.
@Suite struct AddressTests {
    /// An access just outside a window (a region at the very start or end of
    /// its host page) is worded with the host address the interpreter names:
    /// the distance from the nearer window's edge kept, whichever window
    /// the guard page lies between; further away there is none.
    @Test func accessesJustOutsideAWindowAreNamedByHostAddress() throws {
        let regions = [
            MemoryRegion(start: 0x5555_0000_2000, count: 32, writable: true, kind: .input),     // at a page start
            MemoryRegion(start: 0x6666_0000_4fe0, count: 32, writable: false, kind: .context),  // at a page end
        ]
        var space = GuestAddressSpace(model: .translated)
        try space.place(regions)
        let input = try #require(space.guestAddress(forHost: 0x5555_0000_2000))
        let context = try #require(space.guestAddress(forHost: 0x6666_0000_4fe0))
        #expect(space.hostAddress(forGuest: input - 1) == nil && space.hostAddress(forGuest: context + 40) == nil)
        #expect(space.reportedHostAddress(forGuest: input - 1) == 0x5555_0000_1fff)
        #expect(space.reportedHostAddress(forGuest: input - 8) == 0x5555_0000_1ff8)
        #expect(space.reportedHostAddress(forGuest: context + 40) == 0x6666_0000_5008)
        // The guard page between the two windows: each half is named from the nearer one.
        #expect(space.reportedHostAddress(forGuest: input + 0x1008) == 0x5555_0000_3008)
        #expect(space.reportedHostAddress(forGuest: context - 0xfe0 - 0x21) == 0x6666_0000_3fdf)
        #expect(space.reportedHostAddress(forGuest: context + 0x1100) == nil)  // not next to any window
        #expect(space.reportedHostAddress(forGuest: input + 4) == 0x5555_0000_2004)
    }

    @Test func regionsSharingOrTouchingPagesShareAWindow() throws {
        let regions = [
            MemoryRegion(start: 0x5555_0000_2010, count: 16, writable: true, kind: .input),
            MemoryRegion(start: 0x5555_0000_2ff0, count: 32, writable: false, kind: .context),  // spills into the next page
            MemoryRegion(start: 0x7fff_0000_0000, count: 1, writable: true, kind: .stack),
            MemoryRegion(start: 0x5555_0000_9000, count: 0, writable: true, kind: .other),  // empty: no window
        ]
        #expect(GuestAddressSpace.pageSpans(of: regions) == [0x5555_0000_2000..<0x5555_0000_4000, 0x7fff_0000_0000..<0x7fff_0000_1000])
        var space = GuestAddressSpace(model: .translated)
        try space.place(regions)
        #expect(space.windows.count == 2)
        let first = try #require(space.guestAddress(forHost: 0x5555_0000_2010))
        #expect(first == GuestLayout.windows.lowerBound + 0x10)
        // Contiguous in the host, contiguous in the guest: pointer arithmetic across the page works.
        #expect(space.guestAddress(forHost: 0x5555_0000_3008) == first - 0x10 + 0x1008)
        // A guard page separates windows.
        let second = try #require(space.guestAddress(forHost: 0x7fff_0000_0000))
        #expect(second == GuestLayout.windows.lowerBound + 0x3000)
        #expect(space.hostAddress(forGuest: GuestLayout.windows.lowerBound + 0x2fff) == nil)
        #expect(space.hostAddress(forGuest: second + 0x123) == 0x7fff_0000_0123)
        #expect(space.guestAddress(forHost: 0x1234) == nil)
    }

    @Test func identityTranslatesNothing() throws {
        var space = GuestAddressSpace(model: .identity)
        try space.place([MemoryRegion(start: 0x5555_0000_2010, count: 16, writable: true, kind: .input)])
        #expect(space.windows.isEmpty)
        #expect(space.guestAddress(forHost: 0x7fff_1234_5678) == 0x7fff_1234_5678)
        #expect(space.hostAddress(forGuest: 42) == 42)
    }

    @Test func theGuestWindowAreaHasAnEnd() {
        var space = GuestAddressSpace(model: .translated)
        let size = GuestLayout.windows.upperBound - GuestLayout.windows.lowerBound
        #expect(space.window(host: 0x10_0000_0000, length: size / 2) != nil)
        #expect(space.window(host: 0x20_0000_0000, length: size / 2) == nil, "the guard page does not fit")
        #expect(space.window(host: 0x20_0000_0000, length: size / 4) != nil)
    }

    @Test func pcMapsNameTheInstructionContainingAnOffset() {
        // Instruction 2 (a wide immediate's second slot) produced no code.
        let map = NativePCMap(instructionOffsets: [0, 8, 20, 20, 24])
        #expect(map.bpfPC(forNativeOffset: 0) == 0)
        #expect(map.bpfPC(forNativeOffset: 7) == 0)
        #expect(map.bpfPC(forNativeOffset: 8) == 1)
        #expect(map.bpfPC(forNativeOffset: 20) == 3)
        #expect(map.bpfPC(forNativeOffset: 1000) == 4)
        #expect(map.bpfPC(forNativeOffset: -4) == nil)
        #expect(NativePCMap { $0 / 4 }.bpfPC(forNativeOffset: 13) == 3)
    }

    @Test func imagesGetWholePagesAndGiveThemBack() throws {
        let machine = try EmulatedMachine(architecture: .mips32le)
        let first = try machine.reserveImage(size: 100)
        #expect(first.address == GuestLayout.nearCode.lowerBound && first.size == 4096)
        var released: UInt64 = 0
        do {
            let second = try machine.reserveImage(size: 5000)
            #expect(second.address == first.address + 4096 && second.size == 8192)
            released = second.address
        }
        let third = try machine.reserveImage(size: 4096)
        #expect(third.address == released, "the released room is reused")
        #expect(throws: EmulatorError.self) { try machine.reserveImage(size: 64 << 20) }
    }

    @Test func helperAndRuntimeSlotsAreStable() throws {
        let machine = try EmulatedMachine(architecture: .arm64)
        let a = try machine.helperAddress(for: 1)
        let b = try machine.helperAddress(for: Int32.max)
        #expect(a != b && (b - a) % 16 == 0)
        #expect(try machine.helperAddress(for: 1) == a)
        #expect(a != machine.trampolineArea.lowerBound, "slot 0 is the exit")
        #expect(machine.trampolineArea.count == 64 << 10)
    }

    @Test func loadingChecksTheImage() throws {
        let machine = try EmulatedMachine(architecture: .arm32)
        let reservation = try machine.reserveImage(size: 8)
        #expect(throws: EmulatorError.self) { try machine.load(image: [], in: reservation) }
        #expect(throws: EmulatorError.self) { try machine.load(image: [0, 0, 0, 0], in: reservation, entryOffset: 4) }
        #expect(throws: EmulatorError.self) { try machine.load(image: [UInt8](repeating: 0, count: 5000), in: reservation) }
        // 32-bit code outside the code areas, or over the trampolines, is refused.
        #expect(throws: EmulatorError.self) { try machine.load(image: [0, 0, 0, 0], at: 0x3000_0000) }
        #expect(throws: EmulatorError.self) { try machine.load(image: [0, 0, 0, 0], at: machine.trampolineArea.lowerBound) }
    }
}
