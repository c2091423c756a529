import Foundation
import Testing
@testable import BPFMaps

/// `NativeMapTable`: maps found by handle in raw memory, and the operations
/// native helper entries run, against the maps' own program operations.
@Suite struct NativeMapTableTests {
    func withKey<R>(_ key: [UInt8], _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes { try body($0.baseAddress!) }
    }

    @Test func findsMapsByHandleOnly() throws {
        let a = try map(.array, max: 4), h = try map(.hash, max: 4), rb = try map(.ringBuffer, key: 0, value: 0, max: 4096)
        let table = NativeMapTable(MapTable([a, h, rb]))
        #expect(NativeMapTable.entry(table.address, handle: a.handle)?.pointee.kind == .array)
        #expect(NativeMapTable.entry(table.address, handle: h.handle)?.pointee.kind == .hash)
        #expect(NativeMapTable.entry(table.address, handle: rb.handle)?.pointee.kind == .other)
        #expect(NativeMapTable.entry(table.address, handle: 0) == nil)
        #expect(NativeMapTable.entry(table.address, handle: a.handle + 8) == nil)
        #expect(NativeMapTable.entry(nil, handle: a.handle) == nil)
        let ring = try #require(NativeMapTable.entry(table.address, handle: rb.handle))
        #expect(withKey([0, 0, 0, 0]) { NativeMapTable.lookup(ring, key: $0) } == nil)
    }

    @Test func arrayLookupIsTheMapsOwn() throws {
        let a = try map(.array, max: 4), p = try map(.perCPUArray, max: 4)
        let table = NativeMapTable(MapTable([a, p]))
        for m in [a, p] {
            let entry = try #require(NativeMapTable.entry(table.address, handle: m.handle))
            for index: UInt32 in [0, 3, 4, 1000, .max] {
                let key = le32(index)
                #expect(withKey(key) { NativeMapTable.lookup(entry, key: $0) } == m.pLookup(key), "\(m.definition.type) [\(index)]")
            }
        }
        // Another CPU slot, another value.
        if CPUSlots.count > 1 {
            let entry = try #require(NativeMapTable.entry(table.address, handle: p.handle))
            let slot1 = CPUSlots.withSlot(1) { withKey(le32(2)) { NativeMapTable.lookup(entry, key: $0) } }
            #expect(slot1 == CPUSlots.withSlot(1) { p.pLookup(le32(2)) })
            #expect(slot1 != CPUSlots.withSlot(0) { withKey(le32(2)) { NativeMapTable.lookup(entry, key: $0) } })
        }
    }

    @Test func hashOperationsAreTheMapsOwn() throws {
        let h = try map(.hash, max: 2)
        let table = NativeMapTable(MapTable([h]))
        let entry = try #require(NativeMapTable.entry(table.address, handle: h.handle))
        func update(_ key: UInt32, _ value: UInt64, _ flags: UInt64) -> MapError? {
            le32(key).withUnsafeBytes { k in le64(value).withUnsafeBytes { v in
                do throws(MapError) {
                    #expect(try NativeMapTable.update(entry, key: k.baseAddress!, value: v.baseAddress!, flags: flags))
                    return nil
                } catch { return error }
            } }
        }
        func delete(_ key: UInt32) -> MapError? {
            le32(key).withUnsafeBytes { k in
                do throws(MapError) {
                    #expect(try NativeMapTable.delete(entry, key: k.baseAddress!))
                    return nil
                } catch { return error }
            }
        }
        #expect(update(1, 10, UpdateFlags.any.rawValue) == nil)
        #expect(update(1, 11, UpdateFlags.noExist.rawValue) == .keyExists)
        #expect(update(2, 20, UpdateFlags.exist.rawValue) == .noSuchKey)
        #expect(update(2, 20, 0) == nil)
        #expect(update(3, 30, 0) == .full)
        #expect(update(3, 30, 99) != nil)
        let found = withKey(le32(1)) { NativeMapTable.lookup(entry, key: $0) }
        #expect(found == h.pLookup(le32(1)) && found.map(peek64) == 10)
        #expect(withKey(le32(3)) { NativeMapTable.lookup(entry, key: $0) } == 0)
        #expect(delete(1) == nil && delete(1) == .noSuchKey)
        #expect(try h.lookup(key: le32(2)) == le64(20) && h.keys().count == 1)
        // Arrays refuse deletes through the full path (which words the error).
        let a = try map(.array, max: 2)
        let arrays = NativeMapTable(MapTable([a]))
        let arrayEntry = try #require(NativeMapTable.entry(arrays.address, handle: a.handle))
        #expect(try le32(0).withUnsafeBytes { k throws(MapError) in try NativeMapTable.delete(arrayEntry, key: k.baseAddress!) } == false)
    }

    /// While a writer is inside its change (the sequence odd), lookups wait
    /// for it on the lock instead of reading a half-made chain; before and
    /// after, they read without it. Same answers either way.
    @Test func lookupsDuringAWriteTakeTheLock() throws {
        let m = try #require(try map(.hash, max: 8) as? HashMap)
        for k: UInt32 in 0..<6 { _ = m.pUpdate(le32(k), le64(UInt64(k) * 3)) }
        let before = (0..<8).map { m.pLookup(le32(UInt32($0))) }
        m.table.beginWrite()
        let during = (0..<8).map { m.pLookup(le32(UInt32($0))) }
        m.table.endWrite()
        #expect(during == before)
        #expect(before.prefix(6).allSatisfy { $0 != 0 } && before.suffix(2).allSatisfy { $0 == 0 })
        #expect(before.prefix(6).enumerated().allSatisfy { peek64($1) == UInt64($0) * 3 })
    }

    /// Lock-free lookups while writers replace, delete and re-insert: every
    /// element a lookup returns held the key when it was found, so the value
    /// read right after names the key (values are `key << 32 | round`). The
    /// pool is larger than all the allocations the writers make, so no
    /// element is reused during the test and the check holds however late a
    /// reader reads.
    @Test func lockFreeLookupsSeeOnlyTheirKey() throws {
        let m = try map(.hash, max: 60_000)
        let keys = 2_000
        for k in 0..<keys { _ = m.pUpdate(le32(UInt32(k)), le64(UInt64(k) << 32)) }
        let wrong = Locked(0), found = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var mismatches = 0, hits = 0
            for i in 0..<20_000 {
                let k = UInt32((i &* 7 &+ t) % keys)
                if t < 2 {
                    // Writers: replace (a new element each time), delete, re-insert.
                    if i % 5 == 0 {
                        _ = m.pDelete(le32(k))
                    } else {
                        _ = m.pUpdate(le32(k), le64(UInt64(k) << 32 | UInt64(i)))
                    }
                } else {
                    let address = m.pLookup(le32(k))
                    if address != 0 {
                        hits += 1
                        if peek64(address) >> 32 != UInt64(k) { mismatches += 1 }
                    }
                }
            }
            let (m1, h1) = (mismatches, hits)
            wrong.mutate { $0 += m1 }
            found.mutate { $0 += h1 }
        }
        #expect(wrong.value == 0)
        #expect(found.value > 0)
        #expect(m.keys().count <= keys)
    }
}
