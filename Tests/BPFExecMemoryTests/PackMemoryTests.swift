import Foundation
import Testing

@testable import BPFExecMemory

/// The pack against real memory: what /proc/self/maps and read-back show.
@Suite struct PackMemoryTests {
    @Test func noMappingIsWritableAndExecutableWhileImagesAreLoaded() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("wx")))
        var slots: [PackSlot] = []
        for index in 0..<300 {
            let slot = try pack.allocate(size: 6 + index % 200)
            try pack.copy(returning(UInt32(index)), into: slot)
            slots.append(slot)
        }
        let large = try pack.allocate(size: 3 << 20)
        try pack.copy(returning(7), into: large)
        slots.append(large)

        let mappings = ProcMapping.current()
        let offenders = mappings.filter(\.isWritableAndExecutable)
        #expect(offenders.isEmpty, "W+X mappings: \(offenders)")
        // The pack's own memory is mapped, and only read+execute.
        let own = ProcMapping.memfd(named: pack.configuration.name)
        #expect(!own.isEmpty)
        #expect(own.allSatisfy { $0.permissions.hasPrefix("r-x") }, "\(own)")
        for slot in slots {
            #expect(own.contains { $0.contains(slot.address) }, "slot \(slot) not in an r-x view")
            pack.free(slot)
        }
    }

    @Test func mapsNeverShowWritableAndExecutableDuringCopiesAndPatches() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("wx-live")))
        let done = Shared(false)
        let sightings = Shared<[String]>([])
        var samples = 0
        let writer = Thread {
            for round in 0..<150 {
                guard let slot = try? pack.allocate(size: 16) else { continue }
                try? pack.copy(returning(UInt32(round)), into: slot)
                try? pack.patch(slot, at: 1, bytes: [0x55])
                pack.free(slot)
            }
            done.update { $0 = true }
        }
        writer.start()
        while !done.value {
            let offenders = ProcMapping.current().filter(\.isWritableAndExecutable)
            sightings.update { $0 += offenders.map(\.description) }
            samples += 1
        }
        #expect(sightings.value.isEmpty)
        #expect(samples > 0)
    }

    @Test func freedRangesReadBackAsTraps() throws {
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(placement: .lowest, name: uniqueName("freed")))
        let first = try pack.allocate(size: 100)
        let second = try pack.allocate(size: 100)
        let image = [UInt8](repeating: 0x90, count: 100)
        try pack.copy(image, into: first)
        try pack.copy(image, into: second)
        #expect(try pack.bytes(at: first.address, count: 100) == image)

        pack.free(first)
        // The whole of the freed units (two 64-byte units) is traps again.
        #expect(try pack.bytes(at: first.address, count: 128) == [UInt8](repeating: 0xCC, count: 128))
        #expect(try pack.bytes(at: second.address, count: 100) == image)
        pack.free(second)
    }

    @Test func slackAroundAnImageIsTrapFilled() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("slack")))
        for round in 0..<50 {
            let slot = try pack.allocate(size: 6)
            try pack.copy(returning(UInt32(round)), into: slot)
            let unitStart = ExecutableAddress(rawValue: slot.address.rawValue & ~63)
            let unit = try pack.bytes(at: unitStart, count: 64)
            let imageOffset = unitStart.distance(to: slot.address)
            for (offset, byte) in unit.enumerated() {
                if (imageOffset..<(imageOffset + 6)).contains(offset) {
                    #expect(byte == returning(UInt32(round))[offset - imageOffset])
                } else {
                    #expect(byte == 0xCC, "slack byte \(offset) is \(byte)")
                }
            }
        }
    }

    @Test func copyingAShorterImageTrapsTheRestOfTheSlot() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("short")))
        let slot = try pack.allocate(size: 32)
        try pack.copy([UInt8](repeating: 0x90, count: 32), into: slot)
        try pack.copy([0x90, 0x90], into: slot)
        #expect(try pack.bytes(at: slot.address, count: 32) == [0x90, 0x90] + [UInt8](repeating: 0xCC, count: 30))
        pack.free(slot)
    }

    @Test func aChunkThatEmptiesIsUnmappedWithoutSpares() throws {
        let name = uniqueName("empty")
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: name, spareChunks: 0))
        let slots = try (0..<10).map { _ in try pack.allocate(size: 40) }
        let chunkAddress = try #require(pack.statistics.chunks.first).address
        #expect(ProcMapping.memfd(named: name).contains { $0.contains(chunkAddress) })

        for slot in slots.dropLast() {
            pack.free(slot)
        }
        #expect(pack.statistics.chunks.count == 1, "a chunk with a live image stays")
        pack.free(slots[slots.count - 1])
        #expect(pack.statistics.chunks.isEmpty)
        #expect(pack.statistics.spareChunks == 0 && pack.statistics.mappedBytes == 0)
        #expect(ProcMapping.memfd(named: name).isEmpty)
        #expect(!ProcMapping.current().contains { $0.contains(chunkAddress) && $0.path.contains(name) })
    }

    @Test func anEmptiedChunkStaysAsASpareAllTrapsAndReadExecute() throws {
        let name = uniqueName("spare")
        let pack = ProgramPack(trap: .x86_64, configuration: .init(placement: .lowest, name: name))
        let slot = try pack.allocate(size: 200)
        let image = [UInt8](repeating: 0x90, count: 199) + [0xC3]
        try pack.copy(image, into: slot)
        let chunk = try #require(pack.statistics.chunks.first)
        pack.free(slot)

        let statistics = pack.statistics
        #expect(statistics.chunks.isEmpty && statistics.images == 0)
        #expect(statistics.spareChunks == 1 && statistics.spareBytes == chunk.size)
        #expect(statistics.mappedBytes == chunk.size)
        #expect(statistics.description.contains("spare chunks"))
        // The freed program's bytes are gone: the whole spare reads as traps.
        let spare = try pack.bytes(at: chunk.address, count: chunk.size)
        #expect(spare == [UInt8](repeating: 0xCC, count: chunk.size))
        // Still mapped, and only read+execute.
        let own = ProcMapping.memfd(named: name)
        #expect(own.contains { $0.contains(chunk.address) })
        #expect(own.allSatisfy { $0.permissions.hasPrefix("r-x") }, "\(own)")

        // The next program goes into the spare, which reads as traps until copied.
        let next = try pack.allocate(size: 200)
        #expect(next.address == slot.address)
        #expect(pack.statistics.spareChunks == 0 && pack.statistics.chunks.count == 1)
        #expect(try pack.bytes(at: next.address, count: 200) == [UInt8](repeating: 0xCC, count: 200))
        pack.free(next)

        pack.releaseSpareChunks()
        #expect(pack.statistics.spareChunks == 0 && pack.statistics.mappedBytes == 0)
        #expect(ProcMapping.memfd(named: name).isEmpty)
    }

    @Test func oversizeImagesGetTheirOwnMapping() throws {
        let name = uniqueName("oversize")
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: name))
        let small = try pack.allocate(size: 64)
        let large = try pack.allocate(size: (2 << 20) + 1)
        let statistics = pack.statistics
        #expect(statistics.chunks.count == 1)
        #expect(statistics.dedicatedMappings.count == 1)
        let dedicated = try #require(statistics.dedicatedMappings.first)
        #expect(dedicated.size >= large.size)
        #expect(dedicated.address <= large.address && large.endAddress <= dedicated.address.advanced(by: dedicated.size))
        let chunk = statistics.chunks[0]
        #expect(large.address < chunk.address || large.address >= chunk.address.advanced(by: chunk.size))

        let own = ProcMapping.memfd(named: name)
        let view = try #require(own.first { $0.contains(large.address) })
        #expect(view.permissions.hasPrefix("r-x"))
        #expect(Int(view.end - view.start) >= large.size)
        #expect(!view.contains(small.address))
        // The large image's tail, past anything copied, is traps too.
        #expect(try pack.bytes(at: large.endAddress.advanced(by: -16), count: 16) == [UInt8](repeating: 0xCC, count: 16))

        pack.free(large)
        #expect(pack.statistics.dedicatedMappings.isEmpty)
        #expect(!ProcMapping.memfd(named: name).contains { $0.contains(large.address) })
        pack.free(small)
    }

    @Test func aNewChunkIsMappedWhenNoneHasRoom() throws {
        let pageSize = SystemPlatform().pageSize
        let chunkSize = 16 * pageSize
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(chunkSize: chunkSize, hugePages: .never, name: uniqueName("full")))
        let perChunk = chunkSize / ProgramPack.unitSize
        let first = try (0..<perChunk).map { _ in try pack.allocate(size: 64) }
        #expect(pack.statistics.chunks.count == 1)
        #expect(pack.statistics.freeBytes == 0)
        let overflow = try pack.allocate(size: 64)
        #expect(pack.statistics.chunks.count == 2)
        // Room freed in the first chunk is used before the second chunk's.
        pack.free(first[5])
        let reused = try pack.allocate(size: 64)
        #expect(reused.address == first[5].address)
        pack.free(overflow)
        #expect(pack.statistics.chunks.count == 1, "the second chunk emptied and left the chunks in use")
        #expect(pack.statistics.spareChunks == 1, "it is kept as the spare")
        for slot in first where slot != first[5] {
            pack.free(slot)
        }
        pack.free(reused)
        #expect(pack.statistics.chunks.isEmpty)
        #expect(pack.statistics.spareChunks == 1, "one spare at most: the first chunk went back")
    }

    @Test func firstFitTakesTheLowestRunThatFits() throws {
        let pack = ProgramPack(
            trap: .x86_64, configuration: .init(placement: .lowest, name: uniqueName("firstfit")))
        let a = try pack.allocate(size: 64)
        let b = try pack.allocate(size: 64)
        let c = try pack.allocate(size: 64)
        #expect(a.address.distance(to: b.address) == 64 && b.address.distance(to: c.address) == 64)
        pack.free(b)
        let big = try pack.allocate(size: 65)  // two units: does not fit b's hole
        #expect(big.address > c.address)
        let small = try pack.allocate(size: 10)  // one unit: takes b's hole
        #expect(small.address == b.address)
        for slot in [a, c, big, small] {
            pack.free(slot)
        }
    }

    @Test func imageStartsAreAlignedAndRandomizedWithinTheSlack() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("random")))
        var offsets: Set<UInt> = []
        var slots: [PackSlot] = []
        for _ in 0..<400 {
            let slot = try pack.allocate(size: 6, alignment: 16)
            #expect(slot.address.isAligned(to: 16))
            let inUnit = slot.address.rawValue % 64
            #expect(inUnit + 6 <= 64, "image must stay within its unit")
            offsets.insert(inUnit)
            slots.append(slot)
        }
        #expect(offsets == [0, 16, 32, 48])
        let wide = try pack.allocate(size: 100, alignment: 64)
        #expect(wide.address.isAligned(to: 64))
        slots.append(wide)
        for slot in slots {
            pack.free(slot)
        }
    }

    @Test func arm64TrapsFillSlackInInstructionPhase() throws {
        let pack = ProgramPack(
            trap: .arm64, configuration: .init(placement: .lowest, name: uniqueName("arm64")))
        let slot = try pack.allocate(size: 8, alignment: 4)
        try pack.copy([1, 2, 3, 4, 5, 6, 7, 8], into: slot)
        let unit = try pack.bytes(at: slot.address, count: 64)
        #expect(Array(unit[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        let brk: [UInt8] = [0x00, 0x00, 0x20, 0xD4]
        #expect(Array(unit[8...]) == Array(repeating: brk, count: 14).flatMap { $0 })
        #expect(throws: ExecMemoryError.invalidAlignment(2)) { try pack.allocate(size: 8, alignment: 2) }
        pack.free(slot)
    }

    @Test func invalidRequestsThrowTypedErrors() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("errors")))
        #expect(throws: ExecMemoryError.invalidSize(0)) { try pack.allocate(size: 0) }
        #expect(throws: ExecMemoryError.invalidAlignment(3)) { try pack.allocate(size: 8, alignment: 3) }
        #expect(throws: ExecMemoryError.invalidAlignment(128)) { try pack.allocate(size: 8, alignment: 128) }

        let slot = try pack.allocate(size: 8)
        #expect(throws: ExecMemoryError.imageTooLarge(bytes: 9, slotSize: 8)) {
            try pack.copy([UInt8](repeating: 0x90, count: 9), into: slot)
        }
        #expect(throws: ExecMemoryError.outOfBounds(offset: 6, count: 4, limit: 8)) {
            try pack.patch(slot, at: 6, bytes: [1, 2, 3, 4])
        }
        let other = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("other")))
        #expect(throws: ExecMemoryError.unknownSlot) { try other.copy([0x90], into: slot) }
        pack.free(slot)
        #expect(throws: ExecMemoryError.unknownSlot) { try pack.copy([0x90], into: slot) }
        #expect(throws: ExecMemoryError.unknownSlot) { try pack.patch(slot, at: 0, bytes: [0x90]) }
        #expect(throws: ExecMemoryError.invalidTrapPattern(width: 3)) {
            try TrapPattern(bytes: [1, 2, 3], name: "bad")
        }
    }

    @Test func statisticsAddUpAndDescribeThePack() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("stats")))
        let slots = try (0..<10).map { _ in try pack.allocate(size: 100) }
        let large = try pack.allocate(size: 3 << 20)
        let statistics = pack.statistics
        #expect(statistics.chunks.count == 1)
        #expect(statistics.images == 11)
        #expect(statistics.requestedBytes == 10 * 100 + (3 << 20))
        #expect(statistics.chunks[0].bytesInUse == 10 * 128)
        #expect(statistics.chunks[0].bytesInUse + statistics.freeBytes == ProgramPack.defaultChunkSize)
        #expect(statistics.largestFreeRun == ProgramPack.defaultChunkSize - 10 * 128)
        #expect(statistics.dedicatedBytes == 3 << 20)
        let text = statistics.description
        for label in ["chunks", "bytes in use", "free bytes", "largest free run", "dedicated mappings", "int3"] {
            #expect(text.contains(label), "missing \(label) in:\n\(text)")
        }
        #expect(text.contains(statistics.chunks[0].hugePages.rawValue))
        for slot in slots + [large] {
            pack.free(slot)
        }
        #expect(pack.statistics.images == 0 && pack.statistics.mappedBytes == ProgramPack.defaultChunkSize)
        pack.releaseSpareChunks()
        #expect(pack.statistics.mappedBytes == 0)
    }

    @Test func hugePagesAreRequestedAndWhatWasGrantedIsReported() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("huge")))
        let slot = try pack.allocate(size: 64)
        let kind = try #require(pack.statistics.chunks.first).hugePages
        let hugeTLBPool = (try? String(contentsOfFile: "/proc/sys/vm/nr_hugepages", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if hugeTLBPool == 0 {
            #expect(kind != .hugeTLB, "no hugetlb pages exist, so none can have been granted")
        }
        #expect(pack.statistics.description.contains("pages: 1 \(kind)"))
        pack.free(slot)
    }
}
