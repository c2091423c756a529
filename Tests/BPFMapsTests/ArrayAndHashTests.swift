import Testing
@testable import BPFMaps
import BPFRuntime

@Suite struct ArrayMapTests {
    @Test func updateLookupAndKernelErrors() throws {
        let m = try map(.array, max: 3)
        #expect(try m.lookup(key: le32(1)) == le64(0))
        try m.update(key: le32(1), value: le64(42))
        #expect(try m.lookup(key: le32(1)) == le64(42))
        #expect(throws: MapError.full) { try m.update(key: le32(3), value: le64(1)) }
        #expect(throws: MapError.keyExists) { try m.update(key: le32(0), value: le64(1), flags: .noExist) }
        #expect(throws: MapError.noSuchKey) { try m.lookup(key: le32(7)) }
        #expect(m.pDelete(le32(0))?.errno == Errno.EINVAL)
        #expect(m.pUpdate(le32(9), le64(1))?.errno == Errno.E2BIG)
        #expect(m.pUpdate(le32(0), le64(1), 4)?.errno == Errno.EINVAL)
        #expect(m.pLookup(le32(3)) == 0)
        #expect(m.keys().count == 3)
    }

    @Test func lookupAddressIsStableAndVisibleToMemoryChecks() throws {
        let m = try map(.array, value: 12, max: 2)
        let a = m.pLookup(le32(1))
        #expect(a != 0 && a == m.pLookup(le32(1)))
        poke64(a, 0x1122)
        #expect(try m.lookup(key: le32(1)).prefix(8) == le64(0x1122)[...])
        let table = MapRegionTable(maps: [m])
        #expect(table.permits(a, size: 12, write: true))
        #expect(!table.permits(a + 8, size: 8, write: false), "value is 12 bytes; bytes 12..<16 are padding")
        #expect(!table.permits(a - 1, size: 1, write: false))
        #expect(!table.permits(m.handle, size: 1, write: false), "descriptors are not program memory")
    }

    @Test func readOnlyProgramMapsRefuseWrites() throws {
        let m = try map(.array, max: 1, flags: .readOnlyProgram)
        let table = MapRegionTable(maps: [m])
        #expect(table.permits(m.pLookup(le32(0)), size: 8, write: false))
        #expect(!table.permits(m.pLookup(le32(0)), size: 8, write: true))
    }

    @Test func perCPUArrayKeepsOneValuePerSlot() throws {
        let m = try map(.perCPUArray, value: 4, max: 2)
        for slot in 0..<CPUSlots.count {
            CPUSlots.withSlot(slot) { _ = m.pUpdate(le32(1), le32(UInt32(10 + slot)) ) }
        }
        let all = try m.lookup(key: le32(1))
        #expect(all.count == 8 * CPUSlots.count)
        for slot in 0..<CPUSlots.count { #expect(Array(all[slot * 8..<slot * 8 + 4]) == le32(UInt32(10 + slot))) }
        #expect(throws: MapError.self) { try m.update(key: le32(0), value: le32(1)) }
    }
}

@Suite struct HashMapTests {
    @Test func flagsAndCapacity() throws {
        let m = try map(.hash, max: 2)
        #expect(m.pUpdate(le32(1), le64(10), UpdateFlags.exist.rawValue) == .noSuchKey)
        #expect(m.pUpdate(le32(1), le64(10), UpdateFlags.noExist.rawValue) == nil)
        #expect(m.pUpdate(le32(1), le64(11), UpdateFlags.noExist.rawValue) == .keyExists)
        #expect(m.pUpdate(le32(1), le64(12), UpdateFlags.exist.rawValue) == nil)
        #expect(m.pUpdate(le32(2), le64(20)) == nil)
        #expect(m.pUpdate(le32(3), le64(30))?.errno == Errno.E2BIG)
        #expect(m.pUpdate(le32(2), le64(21)) == nil, "updating a present key of a full map works")
        #expect(peek64(m.pLookup(le32(1))) == 12)
        #expect(Set(m.keys()) == [le32(1), le32(2)])
        #expect(m.pDelete(le32(1)) == nil)
        #expect(m.pDelete(le32(1))?.errno == Errno.ENOENT)
        #expect(m.pLookup(le32(1)) == 0)
        #expect(m.pUpdate(le32(3), le64(30)) == nil)
        #expect(throws: MapError.self) { try m.lookup(key: [1, 2]) }
    }

    @Test func freedElementsWaitForTheRunsInFlight() throws {
        let m = try #require(try map(.hash, max: 8) as? HashMap)
        _ = m.pUpdate(le32(1), le64(111))
        // Inside a run (as a program would), however many allocations follow.
        RunLifetime.withRun {
            let old = m.pLookup(le32(1))
            _ = m.pDelete(le32(1))
            var seen: Set<UInt64> = []
            for i in 0..<UInt32(m.reuseWindow + 8) {
                _ = m.pUpdate(le32(100 + i), le64(0))
                seen.insert(m.pLookup(le32(100 + i)))
                _ = m.pDelete(le32(100 + i))
            }
            #expect(!seen.contains(old))
            #expect(peek64(old) == 111, "a deleted value keeps its bytes while the run that saw it is in flight")
            // Every spare now waits for this run: a new key is refused, a present one is updated in place.
            #expect(m.pUpdate(le32(500), le64(5))?.errno == Errno.E2BIG)
        }
        // The run ended: the spares are free again.
        #expect(m.pUpdate(le32(500), le64(5)) == nil)
        #expect(peek64(m.pLookup(le32(500))) == 5)
    }

    @Test func replacingUpdateSwapsElements() throws {
        let m = try map(.hash, max: 4)
        _ = m.pUpdate(le32(5), le64(1))
        let first = m.pLookup(le32(5))
        _ = m.pUpdate(le32(5), le64(2))
        #expect(m.pLookup(le32(5)) != first)
        #expect(peek64(first) == 1 && peek64(m.pLookup(le32(5))) == 2)
    }

    @Test func lruEvictsLeastRecentlyUsed() throws {
        let m = try map(.lruHash, max: 3)
        for k in UInt32(1)...3 { _ = m.pUpdate(le32(k), le64(UInt64(k))) }
        _ = m.pLookup(le32(1))          // 2 is now the oldest
        #expect(m.pUpdate(le32(4), le64(4)) == nil)
        #expect(m.pLookup(le32(2)) == 0)
        #expect(Set(m.keys()) == [le32(1), le32(3), le32(4)])
    }

    @Test func perCPUHashUpdatesOnlyThisSlotFromPrograms() throws {
        let m = try map(.perCPUHash, key: 2, value: 8, max: 4)
        CPUSlots.withSlot(0) { _ = m.pUpdate([1, 2], le64(7)) }
        let all = try m.lookup(key: [1, 2])
        #expect(Array(all[0..<8]) == le64(7))
        #expect(all[8...].allSatisfy { $0 == 0 })
        if CPUSlots.count > 1 {
            CPUSlots.withSlot(1) { #expect(peek64(m.pLookup([1, 2])) == 0) }
        }
        try m.update(key: [3, 4], value: Array(repeating: 9, count: 8 * CPUSlots.count))
        CPUSlots.withSlot(0) { #expect(peek64(m.pLookup([3, 4])) == 0x0909_0909_0909_0909) }
    }

    @Test func lruPerCPUHashEvicts() throws {
        let m = try map(.lruPerCPUHash, max: 1)
        #expect(m.pUpdate(le32(1), le64(1)) == nil)
        #expect(m.pUpdate(le32(2), le64(2)) == nil)
        #expect(m.keys() == [le32(2)])
    }
}
