import BPFLoader
import BPFMaps
import BPFTestSuite
import Foundation
import Testing

/// array_of_maps and hash_of_maps: inner map templates from BTF, slots
/// initialised from the object's `.maps` relocations or set by the host, and
/// programs reaching inner maps through the outer map.
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct MapInMapTests {
    static let source = testProgramsDirectory.appendingPathComponent("map_in_map.c")
    static func packet(_ slot: UInt8) -> [UInt8] { Packets.ethernet(0x88b5, payload: [slot] + Packets.bytes(20)) }
    static let slots: [UInt8] = [0, 2, 0, 1, 3, 9, 2, 0]

    @Test func templatesAndStaticSlots() throws {
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        let outer = try #require(object.maps["outer"] as? MapOfMaps)
        #expect(outer.definition.innerTemplate == MapDefinition(name: "outer.inner", type: .array, keySize: 4, valueSize: 8, maxEntries: 4))
        #expect(outer.inner(at: le32(0)) === object.maps["inner_a"] && outer.inner(at: le32(2)) === object.maps["inner_b"])
        #expect(outer.keys() == [le32(0), le32(2)])
        #expect(try outer.lookup(key: le32(0)) == le32(MapOfMaps.id(of: try #require(object.maps["inner_a"]))))
    }

    @Test func programsReachInnerMapsOnEveryEngine() throws {
        for engine in engines {
            let object = try LoadedObject(bytes: Clang.object(Self.source))
            let program = try object.program(named: "count_array")
            var counts: [UInt8: UInt64] = [:]
            for slot in Self.slots {
                let expected: UInt64 = slot == 0 || slot == 2 ? { counts[slot, default: 0] += 1; return counts[slot]! }() : 100
                #expect(try run(program, on: engine, input: Self.packet(slot)).0 == expected, "slot \(slot) on \(engine.name)")
            }
            #expect(try object.maps["inner_a"]?.lookup(key: le32(1)) == le64(3))
            #expect(try object.maps["inner_b"]?.lookup(key: le32(1)) == le64(2))

            // The host puts inner_b under key 7 of the hash of maps.
            let byHash = try #require(object.maps["by_hash"] as? MapOfMaps)
            let hashed = try object.program(named: "count_hash")
            #expect(try run(hashed, on: engine, input: Self.packet(7)).0 == 100)
            try byHash.set(try #require(object.maps["inner_b"]), at: le32(7))
            #expect(try run(hashed, on: engine, input: Self.packet(7)).0 == 3)
            try byHash.delete(key: le32(7))
            #expect(try run(hashed, on: engine, input: Self.packet(7)).0 == 100)
        }
    }

    @Test func innerMapsMustFitTheTemplate() throws {
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        let outer = try #require(object.maps["outer"] as? MapOfMaps)
        let wrong = try makeMap(MapDefinition(name: "wrong", type: .array, keySize: 4, valueSize: 4, maxEntries: 4))
        #expect(throws: MapError.self) { try outer.set(wrong, at: le32(1)) }
        let bigger = try makeMap(MapDefinition(name: "bigger", type: .array, keySize: 4, valueSize: 8, maxEntries: 8))
        #expect(throws: MapError.self) { try outer.set(bigger, at: le32(1)) }   // max_entries differs, no BPF_F_INNER_MAP
        #expect(throws: MapError.full) { try outer.set(try #require(object.maps["inner_a"]), at: le32(4)) }
        #expect(throws: MapError.self) {
            try makeMap(MapDefinition(name: "no_template", type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2))
        }
    }

    /// An inner map is a handle, not memory: reading through the outer lookup's
    /// result (which the kernel's verifier refuses) fails at run time on every
    /// engine; nothing may be proven through it.
    @Test func readingAnInnerMapHandleIsAnError() throws {
        let source = ObjectFixtures.innerMapHandleReadSource
        let object = try LoadedObject(bytes: Clang.object(source: source, name: "inner_handle_read"))
        let program = try object.program(named: "peek")
        for engine in engines {
            #expect(throws: (any Error).self, "on \(engine.name)") { _ = try run(program, on: engine, input: Self.packet(0)) }
        }
    }

    /// libbpf fills the same static slots in the kernel: the same counts.
    @Test(.enabled(if: KernelObject.availability.available, "kernel comparison skipped: \(KernelObject.availability.reason)"))
    func sameCountsAsTheKernel() throws {
        let path = try Clang.compile(Self.source)
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        let program = try object.program(named: "count_array")
        for slot in Self.slots {
            let (expected, _) = try kernel.run("count_array", input: Self.packet(slot))
            #expect(try run(program, on: engines[0], input: Self.packet(slot)).0 == expected, "slot \(slot)")
        }
    }
}
