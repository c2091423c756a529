import BPFRuntime
import Testing
@testable import BPFMaps

@Suite struct DefinitionTests {
    @Test(arguments: [
        MapDefinition(name: "k0", type: .hash, keySize: 0, valueSize: 8, maxEntries: 4),
        MapDefinition(name: "m0", type: .hash, keySize: 4, valueSize: 8, maxEntries: 0),
        MapDefinition(name: "v0", type: .array, keySize: 4, valueSize: 0, maxEntries: 4),
        MapDefinition(name: "big", type: .array, keySize: 4, valueSize: 1 << 21, maxEntries: 1),
        MapDefinition(name: "huge", type: .hash, keySize: 4, valueSize: 1 << 19, maxEntries: 1 << 20),
        MapDefinition(name: "ak", type: .array, keySize: 8, valueSize: 8, maxEntries: 4),
        MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 5000),
        MapDefinition(name: "rbk", type: .ringBuffer, keySize: 4, valueSize: 0, maxEntries: 4096),
        MapDefinition(name: "pa", type: .programArray, keySize: 4, valueSize: 8, maxEntries: 4),
        MapDefinition(name: "kbig", type: .hash, keySize: 513, valueSize: 8, maxEntries: 4),
        MapDefinition(name: "fl", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4, flags: MapFlags(rawValue: 1 << 20)),
    ])
    func nonsenseIsRejectedWithTheMapsName(_ definition: MapDefinition) {
        do {
            _ = try makeMap(definition)
            Issue.record("accepted \(definition)")
        } catch {
            guard case .invalidDefinition(let name, _) = error else { Issue.record("\(error)"); return }
            #expect(name == definition.name)
        }
    }
}

@Suite struct ProgramArrayTests {
    /// A stand-in prepared program: an engine, an entry word, a result.
    struct Prepared: TailCallable {
        let tailCallEngine: TailCallEngine
        let tailCallEntry: UInt64
        func run(_ input: RunInput) throws(ExecutionError) -> UInt64 { tailCallEntry }
    }
    static let native = TailCallEngine(name: "native", column: 3)

    func target(_ name: String, type: String = "xdp", entry: UInt64, engines: [TailCallEngine] = [native]) -> TailCallTarget {
        TailCallTarget(name: name, programType: type,
                       preparations: engines.map { Prepared(tailCallEngine: $0, tailCallEntry: entry) })
    }

    func word(_ m: ProgramArray, _ engine: TailCallEngine, _ index: Int) -> UInt64 {
        UnsafePointer<UInt64>(bitPattern: UInt(m.nativeEntries(for: engine)))![index]
    }

    final class Poke: TailCallPoke, @unchecked Sendable {
        let engine = ProgramArrayTests.native
        var seen: [UInt64?] = []
        func retarget(_ entry: UInt64?) { seen.append(entry) }
    }

    @Test func setClearGenerationsAndNativeEntries() throws {
        let m = try #require(try map(.programArray, value: 4, max: 4) as? ProgramArray)
        #expect(m.entry(at: 0).target == nil)
        let a = target("a", entry: 0x1000)
        try m.set(a, at: 2)
        let (t, g) = m.entry(at: 2)
        #expect(t === a && g == 1)
        #expect(word(m, Self.native, 2) == 0x1000 && word(m, .interpreter, 2) == 0)
        try m.set(target("b", entry: 0x2000), at: 2)
        #expect(m.entry(at: 2).generation == 2 && m.generation == 2)
        #expect(word(m, Self.native, 2) == 0x2000)
        #expect(m.keys() == [le32(2)])
        #expect(m.target(at: 2, for: Self.native)?.tailCallEntry == 0x2000)
        #expect(m.target(at: 2, for: .interpreter) == nil)
        try m.clear(at: 2)
        #expect(word(m, Self.native, 2) == 0)
        #expect(throws: MapError.noSuchKey) { try m.clear(at: 2) }
        #expect(throws: MapError.full) { try m.set(a, at: 4) }
        #expect(m.pLookup(le32(0)) == 0)
        #expect(m.pUpdate(le32(0), le32(0))?.errno == Errno.EOPNOTSUPP)
    }

    @Test func programTypeAndCallerEnginesAreChecked() throws {
        let m = try #require(try map(.programArray, value: 4, max: 4) as? ProgramArray)
        try m.set(target("a", entry: 1), at: 0)
        #expect(m.programType == "xdp")
        #expect(throws: MapError.self) { try m.set(target("b", type: "mem", entry: 2), at: 1) }
        #expect(throws: TailCallError.self) { _ = try m.attachCaller(engine: Self.native, programType: "mem") }
        #expect(throws: TailCallError.self) { _ = try m.attachCaller(engine: .interpreter, programType: "xdp") }
        var attachment: TailCallAttachment? = try m.attachCaller(engine: Self.native, programType: "xdp")
        #expect(throws: MapError.self) { try m.set(target("c", entry: 3, engines: [.interpreter]), at: 1) }
        attachment = nil
        try m.set(target("c", entry: 3, engines: [.interpreter]), at: 1)
        _ = attachment
    }

    /// Direct sites hear of every change of their slot, and at once when registered.
    @Test func pokesAreRetargeted() throws {
        let m = try #require(try map(.programArray, value: 4, max: 4) as? ProgramArray)
        try m.set(target("a", entry: 0x10), at: 1)
        let poke = Poke()
        m.addPoke(poke, at: 1)
        try m.set(target("b", entry: 0x20), at: 1)
        try m.clear(at: 1)
        try m.set(target("c", entry: 0x30), at: 2)
        m.removePoke(poke)
        try m.set(target("d", entry: 0x40), at: 1)
        #expect(poke.seen == [0x10, 0x20, nil])
        #expect(m.pokeCount(at: 1) == 0)
        m.removeAll()
        #expect(m.keys().isEmpty)
    }
}

@Suite struct RingBufferTests {
    func ring(_ size: Int = 4096) throws -> RingBuffer {
        try #require(try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: size)) as? RingBuffer)
    }

    func write(_ address: UInt64, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(bitPattern: UInt(address))!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    @Test func recordsComeOutInOrderSkippingDiscardedAndStoppingAtBusy() throws {
        let rb = try ring()
        let a = try #require(rb.reserve(3)), b = try #require(rb.reserve(5)), c = try #require(rb.reserve(2))
        write(a, [1, 2, 3]); write(b, [9, 9, 9, 9, 9]); write(c, [7, 8])
        #expect(rb.finish(c, discard: false))
        #expect(rb.consume().isEmpty, "a is still busy")
        rb.finish(a, discard: false)
        #expect(rb.consume() == [[1, 2, 3]])
        rb.finish(b, discard: true)
        #expect(rb.consume() == [[7, 8]])
        #expect(!rb.finish(b, discard: false), "already finished")
        #expect(rb.availableData == 0)
    }

    @Test func capacityFollowsTheKernelAndRecordsWrap() throws {
        let rb = try ring()
        // 8-byte header + 1000 bytes -> 1008; four fit (4032 <= 4095), a fifth does not.
        var addresses: [UInt64] = []
        for i in 0..<4 {
            let p = try #require(rb.reserve(1000))
            write(p, Array(repeating: UInt8(i), count: 1000))
            addresses.append(p)
        }
        #expect(rb.reserve(1000) == nil)
        for p in addresses { rb.finish(p, discard: false) }
        #expect(rb.consume().map(\.first) == [0, 1, 2, 3])
        // Positions are now at 4032: this record wraps past the end and stays contiguous.
        let w = try #require(rb.reserve(200))
        write(w, Array(repeating: 0xab, count: 200))
        rb.finish(w, discard: false)
        #expect(rb.consume() == [Array(repeating: 0xab, count: 200)])
        #expect(MapRegionTable(maps: [rb]).permits(w, size: 200, write: true))
        #expect(rb.reserve(4096) == nil)
    }

    @Test func outputCopies() throws {
        let rb = try ring()
        try [UInt8](arrayLiteral: 5, 6).withUnsafeBytes { try rb.output($0) }
        #expect(rb.consume() == [[5, 6]])
    }
}
