@testable import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// Program-side write access and run-owned resources, at the map level
/// (the engines' side is in BPFTailCallTests.RunLifetimeTests).
@Suite struct LifetimeTests {
    @Test func readOnlyProgramMapsRefuseProgramWritesButNotHostOnes() throws {
        for type in [MapType.array, .hash, .lruHash, .perCPUArray, .perCPUHash] {
            let m = try map(type, max: 4, flags: [.readOnlyProgram], name: "ro_\(type)")
            try m.update(key: le32(1), value: Array(repeating: 0, count: m.hostValueSize))
            #expect(m.pUpdate(le32(1), le64(0x41))?.errno == Errno.EACCES, "\(type): update")
            #expect(m.pDelete(le32(1))?.errno == Errno.EACCES, "\(type): delete")
            // The host still may (BPF_F_RDONLY_PROG restricts programs only).
            try m.update(key: le32(1), value: Array(repeating: 7, count: m.hostValueSize))
            #expect(try m.lookup(key: le32(1)).allSatisfy { $0 == 7 } || type.isPerCPU)
        }
        #expect(throws: MapError.self) {
            try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 4096, flags: [.readOnlyProgram]))
        }
    }

    @Test func nativeTableEntriesCheckWriteAccess() throws {
        let array = try map(.array, max: 2, flags: [.readOnlyProgram], name: "rodata")
        let hash = try map(.hash, max: 2, flags: [.readOnlyProgram], name: "ro_hash")
        try hash.update(key: le32(1), value: le64(1))
        let table = NativeMapTable(MapTable([array, hash]))
        for m in [array, hash] {
            let entry = try #require(NativeMapTable.entry(table.address, handle: m.handle))
            let key = le32(1), value = le64(0x41)
            let update: MapError? = key.withUnsafeBytes { k in value.withUnsafeBytes { v in
                do throws(MapError) { _ = try NativeMapTable.update(entry, key: k.baseAddress!, value: v.baseAddress!, flags: 0); return nil }
                catch { return error }
            } }
            #expect(update?.errno == Errno.EACCES, "\(m.name)")
        }
        #expect(try array.lookup(key: le32(1)) == le64(0))
        #expect(try hash.lookup(key: le32(1)) == le64(1))
    }

    /// A reservation made during a run and left open is discarded when the
    /// run ends: the consumer moves past it and later records arrive.
    @Test func runsReleaseTheReservationsTheyLeftOpen() throws {
        let ring = try #require(try map(.ringBuffer, key: 0, value: 0, max: 4096) as? RingBuffer)
        for _ in 0..<300 {
            RunLifetime.withRun { #expect(ring.reserve(8) != nil) }
            #expect(ring.outstandingReservations == 0)
            #expect(ring.consume().isEmpty, "a discarded record is skipped")
        }
        RunLifetime.withRun {
            guard let address = ring.reserve(8) else { Issue.record("reserve failed"); return }
            poke64(address, 42)
            #expect(ring.finish(address, discard: false))
        }
        #expect(ring.consume() == [le64(42)])
        // A host reservation (outside runs) belongs to the host: it stays open.
        let held = try #require(ring.reserve(8))
        #expect(ring.outstandingReservations == 1)
        ring.finish(held, discard: true)
    }

    /// Nested runs release at the end of the outermost.
    @Test func nestedRunsReleaseAtTheOutermostEnd() throws {
        let ring = try #require(try map(.ringBuffer, key: 0, value: 0, max: 4096) as? RingBuffer)
        RunLifetime.withRun {
            RunLifetime.withRun { _ = ring.reserve(8) }
            #expect(ring.outstandingReservations == 1)
        }
        #expect(ring.outstandingReservations == 0)
    }

    /// A host update outside runs waits for the runs holding the spares
    /// instead of failing; it completes once they end.
    @Test func hostUpdatesWaitForRunsInFlight() throws {
        let m = try #require(try map(.hash, max: 1) as? HashMap)
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        finished.enter()
        Thread {
            RunLifetime.withRun {
                // Use up every spare while this run is in flight.
                for i in 0...UInt32(m.reuseWindow) { _ = m.pUpdate(le32(1), le64(UInt64(i))) }
                started.signal()
                release.wait()
            }
            finished.leave()
        }.start()
        started.wait()
        let done = DispatchSemaphore(value: 0)
        Thread {
            try? m.update(key: le32(1), value: le64(77))
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + .milliseconds(100)) == .timedOut, "the host update waits for the run")
        release.signal()
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        finished.wait()
        #expect(try m.lookup(key: le32(1)) == le64(77))
    }
}
