import Foundation
import Testing

@testable import BPFExecMemory

/// The W^X logic checked through a recording stand-in for the system.
@Suite struct PlatformTests {
    /// A workload touching every write path: chunk creation, copy, patch,
    /// free with trap fill, chunk release, dedicated mappings.
    private func exercise(_ pack: ProgramPack, after check: () -> Void) throws {
        let a = try pack.allocate(size: 6)
        check()
        try pack.copy([0x90, 0x90, 0x90, 0x90, 0x90, 0xC3], into: a)
        check()
        let b = try pack.allocate(size: 200)
        try pack.copy([UInt8](repeating: 0x90, count: 200), into: b)
        try pack.patch(b, at: 8, bytes: [0xCC, 0xCC])
        check()
        let large = try pack.allocate(size: (2 << 20) + 4096)
        try pack.copy([0xC3], into: large)
        check()
        pack.free(a)
        check()
        pack.free(large)
        pack.free(b)
        check()
    }

    @Test func nothingIsEverMappedWritableAndExecutable() throws {
        let platform = RecordingPlatform()
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-wx")), platform: platform)
        try exercise(pack) {}
        let events = platform.events
        #expect(!events.isEmpty)
        for event in events {
            switch event {
            case .map(_, _, let protection, _, _), .protect(_, _, let protection):
                #expect(!protection.isWritableAndExecutable, "\(event)")
            default:
                break
            }
        }
        // Executable views are only ever mapped read+execute, never changed.
        #expect(!events.contains { if case .protect = $0 { true } else { false } })
    }

    @Test func writableViewsExistOnlyDuringAWrite() throws {
        let platform = RecordingPlatform()
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-rw")), platform: platform)
        var checks = 0
        try exercise(pack) {
            #expect(platform.liveBytes(.readWrite) == 0, "a writable view outlived its write")
            checks += 1
        }
        #expect(checks == 6)
        let writableMaps = platform.events.filter {
            if case .map(_, _, .readWrite, _, _) = $0 { true } else { false }
        }
        #expect(writableMaps.count >= 6, "fills, copies and the patch each map a writable view")
        #expect(platform.liveBytes(.readExecute) == ProgramPack.defaultChunkSize, "only the spare chunk is left")
        pack.releaseSpareChunks()
        #expect(platform.liveBytes(.readExecute) == 0, "everything was released at the end")
        #expect(platform.openFiles.isEmpty)
    }

    @Test func copiesAndTrapFillsWriteTheFileWithoutAnyWritableView() throws {
        let platform = RecordingPlatform(.init(refuseHugeTLB: true, writesFiles: true))
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(placement: .lowest, name: uniqueName("fake-pwrite")), platform: platform)
        let slot = try pack.allocate(size: 100)
        let before = platform.events.count
        let image = [UInt8](repeating: 0x90, count: 100)
        try pack.copy(image, into: slot)
        #expect(try pack.bytes(at: slot.address, count: 100) == image)
        pack.free(slot)
        // The freed units (two of 64 bytes) are traps again, read through the executable view.
        #expect(try pack.bytes(at: slot.address, count: 128) == [UInt8](repeating: 0xCC, count: 128))
        let events = Array(platform.events[before...])
        #expect(!events.contains { if case .map = $0 { true } else { false } }, "\(events)")
        #expect(events.filter { if case .write = $0 { true } else { false } }.count == 2, "the copy and the trap fill")
        // A patch stays an atomic store through a transient view.
        let patched = try pack.allocate(size: 16)
        try pack.copy([UInt8](repeating: 0x90, count: 16), into: patched)
        let beforePatch = platform.events.count
        try pack.patch(patched, at: 0, bytes: [0xC3])
        #expect(platform.events[beforePatch...].contains { if case .map(_, _, .readWrite, _, _) = $0 { true } else { false } })
        #expect(try pack.bytes(at: patched.address, count: 2) == [0xC3, 0x90])
        pack.free(patched)
        #expect(platform.liveBytes(.readWrite) == 0)
    }

    @Test func copyAndPatchFlushTheWrittenRangeWhenTheHostNeedsIt() throws {
        let platform = RecordingPlatform(.init(pretendCacheMaintenance: true))
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-flush")), platform: platform)
        let slot = try pack.allocate(size: 40, alignment: 16)
        let before = platform.events.count
        try pack.copy([UInt8](repeating: 0x90, count: 24), into: slot)
        // The whole slot was written (image, then traps for the rest).
        #expect(Array(platform.events[before...]).contains(.flush(address: slot.address.rawValue, length: 40)))

        let beforePatch = platform.events.count
        try pack.patch(slot, at: 9, bytes: [0xCC, 0xCC])
        let word = (slot.address.rawValue + 9) & ~7
        #expect(Array(platform.events[beforePatch...]).contains(.flush(address: word, length: 8)))
        pack.free(slot)
    }

    @Test func noFlushWhenTheHostIsCoherent() throws {
        let platform = RecordingPlatform()
        guard !platform.requiresInstructionCacheMaintenance else {
            return  // arm64 hosts always flush; covered by the test above
        }
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-noflush")), platform: platform)
        let slot = try pack.allocate(size: 40)
        try pack.copy([0xC3], into: slot)
        try pack.patch(slot, at: 0, bytes: [0xC3])
        pack.free(slot)
        #expect(!platform.events.contains { if case .flush = $0 { true } else { false } })
    }

    @Test func hugeTLBFirstThenTransparentHugePagesOnAnAlignedView() throws {
        let platform = RecordingPlatform(.init(refuseHugeTLB: true, pretendTransparentHugePages: true))
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-thp")), platform: platform)
        let slot = try pack.allocate(size: 64)
        let created = platform.events.compactMap { event -> Bool? in
            if case .createFile(_, let hugeTLB) = event { hugeTLB } else { nil }
        }
        #expect(created == [false], "the refused hugetlb file is not created, the normal one is")
        let advised = platform.events.compactMap { event -> UInt? in
            if case .advise(let address, let length) = event, length == 2 << 20 { address } else { nil }
        }
        #expect(advised.count == 2, "both the fill view and the executable view are advised")
        #expect(advised.allSatisfy { $0 % UInt(2 << 20) == 0 }, "THP needs 2 MiB-aligned views")
        #expect(pack.statistics.chunks.first?.hugePages == .transparent)
        #expect(pack.statistics.description.contains("1 thp"))
        pack.free(slot)
        #expect(platform.liveBytes(.inaccessible) == 0, "reservations were trimmed away")
    }

    @Test func refusedHugePagesFallBackToNormalPages() throws {
        let platform = RecordingPlatform(.init(refuseHugeTLB: true, refuseAdvice: true))
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-4k")), platform: platform)
        let slot = try pack.allocate(size: 64)
        try pack.copy([0xC3], into: slot)
        #expect(pack.statistics.chunks.first?.hugePages == .normal)
        pack.free(slot)
    }

    @Test func policyNeverAsksForNoHugePages() throws {
        let platform = RecordingPlatform()
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(hugePages: .never, name: uniqueName("fake-never")), platform: platform)
        let slot = try pack.allocate(size: 64)
        #expect(!platform.events.contains { if case .advise = $0 { true } else { false } })
        #expect(!platform.events.contains(where: { if case .createFile(_, true) = $0 { true } else { false } }))
        #expect(pack.statistics.chunks.first?.hugePages == .normal)
        pack.free(slot)
    }

    @Test func aFailedMapLeavesNothingBehind() throws {
        for limit in 0..<4 {
            let platform = RecordingPlatform(.init(refuseHugeTLB: true, failMapsAfter: limit))
            let pack = ProgramPack(
                trap: .x86_64, configuration: .init(name: uniqueName("fake-fail")), platform: platform)
            #expect(throws: ExecMemoryError.systemCall("mmap", errno: ENOMEM)) { try pack.allocate(size: 64) }
            #expect(platform.openFiles.isEmpty, "limit \(limit): files leaked")
            #expect(platform.liveBytes(.readExecute) + platform.liveBytes(.readWrite) == 0)
            #expect(platform.liveBytes(.inaccessible) == 0)
            #expect(pack.statistics.chunks.isEmpty)
        }
    }

    @Test func roomWhoseTrapFillFailedIsNotReusedUntilTheChunkGoes() throws {
        let platform = RecordingPlatform()
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(placement: .lowest, name: uniqueName("fake-unreclaimed")),
            platform: platform)
        let a = try pack.allocate(size: 64)
        let b = try pack.allocate(size: 64)
        platform.failAllMaps.update { $0 = true }
        #expect(throws: ExecMemoryError.systemCall("mmap", errno: ENOMEM)) { try pack.copy([0xC3], into: b) }
        pack.free(a)
        platform.failAllMaps.update { $0 = false }
        #expect(pack.statistics.unreclaimedBytes == 64)
        #expect(pack.statistics.description.contains("unreclaimed"))
        let c = try pack.allocate(size: 64)
        #expect(c.address != a.address, "room that may hold stale code must not be handed out")
        pack.free(b)
        pack.free(c)
        #expect(pack.statistics.chunks.isEmpty)
        #expect(pack.statistics.unreclaimedBytes == 0)
        #expect(platform.openFiles.isEmpty)
    }

    /// Files created (chunks and dedicated mappings mapped).
    private func filesCreated(_ platform: RecordingPlatform) -> Int {
        platform.events.filter { if case .createFile = $0 { true } else { false } }.count
    }

    @Test func loadFreeLoadMapsNoNewChunk() throws {
        let platform = RecordingPlatform()
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("fake-reuse")), platform: platform)
        let first = try pack.allocate(size: 100)
        try pack.copy([UInt8](repeating: 0x90, count: 99) + [0xC3], into: first)
        let chunk = try #require(pack.statistics.chunks.first)
        pack.free(first)
        // (A refused hugetlb file may have been created before the chunk's own.)
        let created = filesCreated(platform)
        let eventsBefore = platform.events.count
        for round in 0..<20 {
            let slot = try pack.allocate(size: 100 + round)
            try pack.copy([0xC3], into: slot)
            #expect(slot.address >= chunk.address && slot.endAddress <= chunk.address.advanced(by: chunk.size))
            pack.free(slot)
        }
        let later = platform.events[eventsBefore...]
        #expect(filesCreated(platform) == created, "load, free, load maps no new chunk")
        #expect(!later.contains { if case .map(_, _, .readExecute, _, _) = $0 { true } else { false } })
        #expect(!later.contains { if case .closeFile = $0 { true } else { false } })
        #expect(!later.contains { event in
            if case .unmap(_, let length) = event { length >= chunk.size } else { false }
        }, "the chunk is never unmapped in between")
    }

    @Test func spareChunksStayWithinTheirBound() throws {
        let chunkSize = 16 * SystemPlatform().pageSize
        let perChunk = chunkSize / ProgramPack.unitSize
        for limit in [0, 1, 2] {
            let platform = RecordingPlatform()
            do {
                let pack = ProgramPack(
                    trap: .x86_64,
                    configuration: .init(
                        chunkSize: chunkSize, hugePages: .never, name: uniqueName("fake-bound"), spareChunks: limit),
                    platform: platform)
                let slots = try (0..<(3 * perChunk)).map { _ in try pack.allocate(size: 64) }
                #expect(pack.statistics.chunks.count == 3)
                for slot in slots {
                    pack.free(slot)
                }
                #expect(pack.statistics.chunks.isEmpty)
                #expect(pack.statistics.spareChunks == limit, "limit \(limit)")
                #expect(platform.liveBytes(.readExecute) == limit * chunkSize, "limit \(limit)")
                #expect(platform.openFiles.count == limit, "limit \(limit)")
                // Refilling takes the spares before mapping anything new.
                let again = try (0..<(3 * perChunk)).map { _ in try pack.allocate(size: 64) }
                #expect(filesCreated(platform) == 3 + (3 - limit), "limit \(limit)")
                for slot in again {
                    pack.free(slot)
                }
                #expect(pack.statistics.spareChunks == limit)
            }
            // The pack is gone, and its spares with it.
            #expect(platform.liveBytes(.readExecute) == 0, "limit \(limit)")
            #expect(platform.openFiles.isEmpty, "limit \(limit)")
        }
    }

    @Test func theSystemPlatformRefusesWritableAndExecutable() throws {
        let system = SystemPlatform()
        #expect(throws: ExecMemoryError.writableAndExecutable) {
            try system.map(length: 4096, protection: [.read, .write, .execute], backing: .anonymous, fixedAt: nil)
        }
        let page = try system.map(length: 4096, protection: .readWrite, backing: .anonymous, fixedAt: nil)
        #expect(throws: ExecMemoryError.writableAndExecutable) {
            try system.protect(page, length: 4096, protection: [.write, .execute])
        }
        try system.protect(page, length: 4096, protection: .readExecute)
        system.unmap(page, length: 4096)
    }
}
