import BPFMaps
import BPFRuntime
import Testing
@testable import BPFHelpers

/// `MemoryRegions.extents` of the program types' runs (the bytes an engine
/// copying host memory shows the program) against their resolvers, which
/// are the truth: for every page the run's memory meets, the ranges the
/// extents give equal those found by asking the resolver about each byte,
/// before and after the helpers that move a packet's ends.
@Suite struct ResolverExtentsTests {
    /// Maps whose value slabs have padding (12-byte values in 16-byte slots) and none.
    static func maps() throws -> MapTable {
        MapTable([
            try makeMap(MapDefinition(name: "padded", type: .array, keySize: 4, valueSize: 12, maxEntries: 300)),
            try makeMap(MapDefinition(name: "hash", type: .hash, keySize: 4, valueSize: 20, maxEntries: 8)),
            try makeMap(MapDefinition(name: "dense", type: .array, keySize: 4, valueSize: 8, maxEntries: 4)),
        ])
    }

    /// Compares the extents with probing on every page of `addresses`.
    static func expectExtentsMatchTheResolver(_ regions: MemoryRegions, around addresses: [UInt64], _ what: String) {
        #expect(regions.extents != nil, "\(what): no extents")
        var probed = regions
        probed.extents = nil
        var pages = Set<UInt64>()
        for address in addresses {
            let page: UInt64 = address & ~UInt64(4095)
            pages.formUnion([page &- 4096, page, page &+ 4096])
        }
        for page in pages {
            let fromExtents = regions.resolvedRanges(page, page + 4096)
            #expect(fromExtents == probed.resolvedRanges(page, page + 4096), "\(what): page 0x\(String(page, radix: 16))")
        }
    }

    /// Whether the extents show `address` (control: the comparison is not between two empty lists).
    static func shows(_ regions: MemoryRegions, _ address: UInt64) -> Bool {
        let page = address & ~UInt64(4095)
        return regions.resolvedRanges(page, page + 4096).contains { $0.contains(address) }
    }

    static func slabAddresses(_ maps: MapTable) -> [UInt64] {
        maps.regions.regions.flatMap { [$0.start, $0.end - 1] }
    }

    @Test func xdpExtentsFollowThePacketsEnds() throws {
        let maps = try Self.maps()
        let run = try #require(try XDPProgramType().makeRun(input: [UInt8](repeating: 7, count: 100), maps: maps.regions,
                                                               byteOrder: .host) as? XDPProgramType.XDPRun)
        let frame = run.frame
        func check(_ what: String) {
            Self.expectExtentsMatchTheResolver(run.input.regions, around: [frame.dataMeta, frame.dataEnd] + Self.slabAddresses(maps), what)
            #expect(Self.shows(run.input.regions, frame.dataEnd - 1) && !Self.shows(run.input.regions, frame.dataEnd), "\(what)")
        }
        check("initially")
        #expect(frame.adjustTail(200) == 0)
        check("after adjust_tail +200")
        #expect(frame.adjustHead(-32) == 0)
        check("after adjust_head -32")
        #expect(frame.adjustMeta(-16) == 0)
        check("after adjust_meta -16")
        #expect(frame.adjustTail(-150) == 0)
        check("after adjust_tail -150")
    }

    @Test func tcExtentsFollowThePacket() throws {
        let maps = try Self.maps()
        let packet = [UInt8](repeating: 0, count: 12) + [0x08, 0x00] + [UInt8](repeating: 0x45, count: 60)
        let run = try #require(try TCProgramType().makeRun(input: packet, maps: maps.regions, byteOrder: .host) as? TCProgramType.TCRun)
        func check(_ what: String) {
            let low = run.skb.extent.lowerBound, high = run.skb.extent.upperBound
            Self.expectExtentsMatchTheResolver(run.input.regions, around: [low, high] + Self.slabAddresses(maps), what)
            #expect(Self.shows(run.input.regions, low) && !Self.shows(run.input.regions, high), "\(what)")
        }
        check("initially")
        #expect(run.skb.changeTail(1000, flags: 0) == 0)
        check("after change_tail 1000")
        #expect(run.skb.changeHead(64, flags: 0) == 0)
        check("after change_head 64")
    }

    @Test func memRunExtentsAreTheMapValues() throws {
        let maps = try Self.maps()
        let run = try ProgramTypes.mem.makeRun(input: [1, 2, 3], maps: maps.regions, byteOrder: .host)
        Self.expectExtentsMatchTheResolver(run.input.regions, around: Self.slabAddresses(maps), "mem")
        let padded = try #require(maps.regions.regions.first { $0.usableSize == 12 })
        #expect(Self.shows(run.input.regions, padded.start + 11) && !Self.shows(run.input.regions, padded.start + 12))
    }
}
