import Testing

@testable import BPFExecMemory

@Suite struct UnitBitmapTests {
    @Test func firstFitFindsTheLowestRunAcrossWordBoundaries() {
        var bitmap = UnitBitmap(unitCount: 200)
        #expect(bitmap.firstFit(200) == 0)
        #expect(bitmap.firstFit(201) == nil)
        bitmap.markUsed(0..<60)
        bitmap.markUsed(70..<130)
        #expect(bitmap.firstFit(10) == 60)
        #expect(bitmap.firstFit(11) == 130, "the hole at 60..<70 is too small")
        #expect(bitmap.largestFreeRun == 70)
        bitmap.markUsed(130..<200)
        #expect(bitmap.firstFit(11) == nil)
        #expect(bitmap.freeCount == 10)
        bitmap.markFree(0..<60)
        #expect(bitmap.firstFit(70) == 0)
        #expect(bitmap.largestFreeRun == 70)
        #expect(bitmap.usedCount == 130)
    }

    @Test func unitsPastTheEndAreNeverFree() {
        var bitmap = UnitBitmap(unitCount: 70)
        bitmap.markUsed(0..<64)
        #expect(bitmap.firstFit(6) == 64)
        #expect(bitmap.firstFit(7) == nil)
        #expect(bitmap.largestFreeRun == 6)
        bitmap.markFree(0..<64)
        #expect(bitmap.isEmpty)
    }
}

@Suite struct TrapPatternTests {
    @Test func patternsAreTheArchitecturesTrapInstructions() {
        #expect(TrapPattern.x86_64.bytes == [0xCC])
        #expect(TrapPattern.arm64.bytes == [0x00, 0x00, 0x20, 0xD4])
        #expect(TrapPattern.arm64.instructionWidth == 4)
        #expect(TrapPattern.arm64.description == "brk #0 (00 00 20 d4)")
    }

    @Test func fillStaysInPhaseWithInstructionBoundaries() {
        var buffer = [UInt8](repeating: 0, count: 6)
        buffer.withUnsafeMutableBytes { TrapPattern.arm64.fill($0, startingAtOffset: 2) }
        #expect(buffer == [0x20, 0xD4, 0x00, 0x00, 0x20, 0xD4])
    }
}

@Suite struct SmapsTests {
    @Test func hugePageFieldsOfOneMappingAreSummed() {
        let smaps = """
            7f0000000000-7f0000200000 r-xp 00000000 00:01 17   /memfd:bpfkit-jit (deleted)
            Size:               2048 kB
            AnonHugePages:         0 kB
            ShmemPmdMapped:     2048 kB
            FilePmdMapped:         0 kB
            VmFlags: rd ex mr mw me sd hg
            7f0000400000-7f0000600000 r--p 00000000 00:01 18   /memfd:other (deleted)
            ShmemPmdMapped:     2048 kB
            """
        #expect(SmapsEntry.hugePageBytes(in: smaps, mappingStart: 0x7f00_0000_0000) == 2 << 20)
        #expect(SmapsEntry.hugePageBytes(in: smaps, mappingStart: 0x7f00_0020_0000) == 0)
    }
}

@Suite struct AddressTests {
    @Test func displacementsAreSignedDistances() {
        let site = ExecutableAddress(rawValue: 0x1000)
        #expect(site.distance(to: ExecutableAddress(rawValue: 0x0F00)) == -0x100)
        #expect(site.advanced(by: -0x100) == ExecutableAddress(rawValue: 0x0F00))
        #expect(site.description == "0x1000")
    }
}

@Suite struct BatchedRandomTests {
    @Test func refillsItsPoolAndDoesNotRepeat() {
        var random = BatchedRandom()
        // 100 draws cross three refills of the 32-word pool.
        let values = (0..<100).map { _ in random.next() }
        #expect(Set(values).count == 100, "64-bit draws from the CSPRNG should not collide")
        let offsets = Set((0..<400).map { _ in Int.random(in: 0...3, using: &random) })
        #expect(offsets == [0, 1, 2, 3])
    }
}
