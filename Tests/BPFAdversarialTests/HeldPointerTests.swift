import BPFHelpers
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// A program holds the pointer a hash lookup returned and stores through it,
/// while a host thread deletes that key and adds another: the store must
/// never land in the other key's value (the element's memory may not be
/// reused while a run that may hold a pointer to it is in flight, as RCU's
/// grace period guarantees in the kernel).
@Suite(.serialized) struct HeldPointerTests {
    /// Counts, shared with the host thread.
    final class Shared: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var seen = 0, updates = 0
        var stop: Bool { lock.withLock { stopped } }
        func finish() { lock.withLock { stopped = true } }
        func record(violation: Bool) { lock.withLock { updates += 1; if violation { seen += 1 } } }
        var counts: (violations: Int, updates: Int) { lock.withLock { (seen, updates) } }
    }

    /// key 1 looked up, then 0xbad stored 1,000 times through the pointer.
    static let program: Program = {
        var instructions: [Instruction] = [
            .alu(.w64, .mov, dst: .r1, .immediate(1)),
            .store(.word, dst: .r10, offset: -4, src: .r1),
            .loadImmediate64(dst: .r1, .mapByIndex(0)),
            .alu(.w64, .mov, dst: .r2, .register(.r10)),
            .alu(.w64, .add, dst: .r2, .immediate(-4)),
            .call(.helper(1)),
            .branch(.w64, .eq, dst: .r0, .immediate(0), offset: 5),
            .alu(.w64, .mov, dst: .r6, .register(.r0)),
            .alu(.w64, .mov, dst: .r7, .immediate(1000)),
        ]
        instructions += [
            .storeImmediate(.double, dst: .r6, offset: 0, imm: 0xbad),
            .alu(.w64, .sub, dst: .r7, .immediate(1)),
            .branch(.w64, .ne, dst: .r7, .immediate(0), offset: -3),
            .alu(.w64, .mov, dst: .r0, .immediate(0)),
            .exit,
        ]
        return Program(instructions, name: "hold")
    }()

    @Test(arguments: [Side.reference] + Side.native.filter { $0 != .filledInterpreter })
    func storesThroughAHeldPointerNeverLandInAnotherKey(_ side: Side) throws {
        let map = try makeMap(MapDefinition(name: "one", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1))
        let linked = try LinkedProgram(program: Self.program, type: ProgramTypes.xdp, maps: [map], options: LoadOptions(trace: { _ in }))
        let prepared = try side.engine().prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: 100_000))
        let key1: [UInt8] = [1, 0, 0, 0], key2: [UInt8] = [2, 0, 0, 0], key3: [UInt8] = [3, 0, 0, 0]
        let bad: [UInt8] = [0xad, 0x0b, 0, 0, 0, 0, 0, 0]
        try map.update(key: key1, value: [0x11, 0x11, 0, 0, 0, 0, 0, 0], flags: .any)
        let shared = Shared()
        let host = Thread {
            while !shared.stop {
                try? map.delete(key: key1)
                // Another key in between, so that key 2 gets the element
                // key 1 had as soon as the map's free list allows it.
                try? map.update(key: key3, value: [0x33, 0x33, 0, 0, 0, 0, 0, 0], flags: .any)
                try? map.delete(key: key3)
                guard (try? map.update(key: key2, value: [0x22, 0x22, 0, 0, 0, 0, 0, 0], flags: .any)) != nil else {
                    try? map.update(key: key1, value: [0x11, 0x11, 0, 0, 0, 0, 0, 0], flags: .any)
                    continue
                }
                // Let a run in flight store, then look.
                usleep(20)
                shared.record(violation: (try? map.lookup(key: key2)) == bad)
                try? map.delete(key: key2)
                try? map.update(key: key1, value: [0x11, 0x11, 0, 0, 0, 0, 0, 0], flags: .any)
            }
        }
        host.start()
        defer { shared.finish() }
        let runs = side == .reference ? 5_000 : 20_000
        for _ in 0..<runs {
            let run = try linked.makeRun(input: [UInt8](repeating: 0, count: 64))
            _ = try withExtendedLifetime(run) { try prepared.run(run.input) }
        }
        shared.finish()
        while !host.isFinished { usleep(1_000) }
        let (violations, updates) = shared.counts
        print("held pointer, \(side): \(runs) runs, \(updates) host replacements of key 1 by key 2, \(violations) stores seen in key 2")
        #expect(updates > 20, "the host thread barely ran: \(updates) updates")
        #expect(violations == 0, "\(side): \(violations) of \(updates) values of key 2 held the store made through key 1's stale pointer")
    }
}
