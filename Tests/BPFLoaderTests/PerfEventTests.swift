import BPFLoader
import BPFMaps
import Foundation
import Testing

/// perf_event_array and bpf_perf_event_output: samples reach the Swift
/// consumer; errors are the kernel's.
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"), .serialized)
struct PerfEventTests {
    static let source = testProgramsDirectory.appendingPathComponent("perf_events.c")
    static func packet(_ slot: UInt8) -> [UInt8] { Packets.ethernet(0x88b5, payload: [slot] + Packets.bytes(45)) }

    @Test func samplesReachTheConsumerOnEveryEngine() throws {
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        let events = try #require(object.maps["events"] as? PerfEventArray)
        #expect(events.definition.maxEntries == CPUSlots.count, "max_entries 0 is one slot per CPU")
        let program = try object.program(named: "perf_events")
        for engine in engines {
            // No buffer open: -ENOENT, as an empty slot in the kernel.
            #expect(try run(program, on: engine, input: Self.packet(0xff)).0 == UInt64(Errno.ENOENT))
            try events.openAll(pages: 1)
            let packet = Self.packet(0xff)
            let cpu = CPUSlots.current
            #expect(try run(program, on: engine, input: packet).0 == 100, "on \(engine.name)")
            let samples = events.drain(cpu: cpu)
            #expect(samples == [le32(UInt32(packet.count)) + le32(0xfeed_beef) + Array(packet.prefix(16))], "on \(engine.name)")
            // Another CPU's slot: EOPNOTSUPP; past max_entries: E2BIG.
            if CPUSlots.count > 1 {
                let other = UInt8((cpu + 1) % CPUSlots.count)
                #expect(try run(program, on: engine, input: Self.packet(other)).0 == UInt64(Errno.EOPNOTSUPP))
            }
            #expect(try run(program, on: engine, input: Self.packet(0xfe)).0 == UInt64(Errno.E2BIG))
            // A full buffer loses the sample: ENOSPC, counted.
            let fits = PerfEventArray.pageSize / PerfEventArray.footprint(8 + 16)
            for _ in 0..<fits { #expect(try run(program, on: engine, input: packet).0 == 100) }
            #expect(try run(program, on: engine, input: packet).0 == UInt64(Errno.ENOSPC))
            #expect(events.lostSamples(cpu: cpu) == 1 && events.drain(cpu: cpu).count == fits)
            for slot in 0..<CPUSlots.count { events.close(cpu: slot) }
        }
    }

    @Test func mapRules() throws {
        #expect(throws: MapError.self) { try makeMap(MapDefinition(name: "p", type: .perfEventArray, keySize: 8, valueSize: 4, maxEntries: 0)) }
        let events = try makeMap(MapDefinition(name: "p", type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: 2))
        #expect(throws: MapError.self) { try events.lookup(key: le32(0)) }
        try events.update(key: le32(1), value: le32(9))     // opens slot 1
        #expect(events.keys() == [le32(1)])
        try events.delete(key: le32(1))
        #expect(throws: MapError.noSuchKey) { try events.delete(key: le32(1)) }
        #expect(throws: MapError.full) { try events.update(key: le32(2), value: le32(9)) }
    }

    /// With the map empty (no perf event installed), the kernel answers -ENOENT too.
    @Test(.enabled(if: KernelObject.availability.available, "kernel comparison skipped: \(KernelObject.availability.reason)"))
    func emptySlotsAnswerAsTheKernel() throws {
        let path = try Clang.compile(Self.source)
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        let program = try object.program(named: "perf_events")
        for slot: UInt8 in [0xff, 0, 0xfe] {
            let (expected, _) = try kernel.run("perf_events", input: Self.packet(slot))
            for engine in engines {
                #expect(try run(program, on: engine, input: Self.packet(slot)).0 == expected, "slot \(slot) on \(engine.name)")
            }
        }
    }
}
