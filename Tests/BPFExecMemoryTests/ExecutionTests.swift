import Foundation
import Testing

@testable import BPFExecMemory

#if arch(x86_64)
/// Running copied code, patching it live, and doing both from many threads.
@Suite struct ExecutionTests {
    @Test func copiedCodeRunsAtTheSlotAddress() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("run")))
        let slot = try pack.allocate(size: 6)
        try pack.copy(returning(42), into: slot)
        #expect(call(slot.address) == 42)
        try pack.copy(returning(43), into: slot)
        #expect(call(slot.address) == 43)
        pack.free(slot)
    }

    @Test func codeInADedicatedMappingRuns() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("run-big")))
        let slot = try pack.allocate(size: 3 << 20)
        // The entry is at the start; the rest of the image is traps.
        try pack.copy(returning(0xBEEF), into: slot)
        #expect(call(slot.address) == 0xBEEF)
        pack.free(slot)
    }

    @Test func patchingAnImmediateChangesWhatTheCodeReturns() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("patch")))
        let slot = try pack.allocate(size: 16, alignment: 16)
        try pack.copy(returning(1), into: slot)
        // imm32 sits at bytes 1...4: inside the first aligned 8-byte word.
        try pack.patch(slot, at: 1, bytes: [0x78, 0x56, 0x34, 0x12])
        #expect(call(slot.address) == 0x1234_5678)
        #expect(try pack.bytes(at: slot.address, count: 6) == returning(0x1234_5678))
        #expect(throws: ExecMemoryError.patchNotAtomic(offset: 6, count: 4)) {
            try pack.patch(slot, at: 6, bytes: [0x90, 0x90, 0x90, 0x90])
        }
        pack.free(slot)
    }

    @Test func aLivePatchIsNeverSeenTorn() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("torn")))
        let slot = try pack.allocate(size: 16, alignment: 16)
        let old: UInt32 = 0x1111_1111
        let new: UInt32 = 0x2222_2222
        try pack.copy(returning(old), into: slot)
        let stop = Shared(false)
        let seen = Shared<Set<UInt32>>([])
        let caller = Thread {
            var results: Set<UInt32> = []
            var calls = 0
            while !stop.value || calls < 10_000 {
                results.insert(call(slot.address))
                calls += 1
            }
            seen.update { $0 = results }
        }
        caller.start()
        for round in 0..<2_000 {
            let value = round % 2 == 0 ? new : old
            try pack.patch(slot, at: 1, bytes: withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        stop.update { $0 = true }
        while seen.value.isEmpty {
            usleep(1_000)
        }
        #expect(seen.value.isSubset(of: [old, new]), "torn results: \(seen.value.subtracting([old, new]))")
        pack.free(slot)
    }

    @Test func threadsAllocateCopyRunAndFreeConcurrently() throws {
        let pack = ProgramPack(trap: .x86_64, configuration: .init(name: uniqueName("threads")))
        let failures = Shared<[String]>([])
        onThreads(4) { thread in
            var held: [(PackSlot, UInt32)] = []
            for round in 0..<400 {
                let tag = UInt32(thread << 16 | round)
                do {
                    // Sizes from one unit to several, padded with nops after the ret.
                    let size = 6 + (round * 37 + thread * 11) % 300
                    let slot = try pack.allocate(size: size)
                    try pack.copy(returning(tag) + [UInt8](repeating: 0x90, count: size - 6), into: slot)
                    held.append((slot, tag))
                } catch {
                    failures.update { $0.append("thread \(thread) round \(round): \(error)") }
                }
                // Run everything still held, then free some of it.
                for (slot, expected) in held where call(slot.address) != expected {
                    failures.update { $0.append("thread \(thread): \(slot) returned a wrong value") }
                }
                if held.count > 8 || round % 3 == 0 {
                    let (slot, _) = held.removeFirst()
                    pack.free(slot)
                }
            }
            for (slot, _) in held {
                pack.free(slot)
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value.prefix(5))")
        #expect(pack.statistics.images == 0)
        #expect(pack.statistics.chunks.isEmpty)
    }
}
#endif
