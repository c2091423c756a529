import BPFClassic
import BPFRuntime
import Testing

/// The socket filter's `MemoryRegions.extents` (what an engine copying host
/// memory shows of the packet) against its resolver, packet after packet.
@Suite struct SocketFilterExtentsTests {
    @Test func extentsAreWhatTheResolverAdmits() {
        let run = SocketFilterRun(capacity: 3000)
        var probed = run.input.regions
        probed.extents = nil
        #expect(run.input.regions.extents != nil)
        for length in [0, 1, 60, 1500, 3000, 14] {
            run.load([UInt8](repeating: 0x42, count: length), metadata: PacketMetadata(wireLength: UInt32(length)))
            var pages = Set(Self.packetPages(run, length: length))
            pages.insert(run.input.regions.regions[0].start & ~UInt64(4095))
            for page in pages {
                #expect(run.input.regions.resolvedRanges(page, page + 4096) == probed.resolvedRanges(page, page + 4096),
                        "\(length)-byte packet, page 0x\(String(page, radix: 16))")
            }
        }
    }

    /// The pages the packet's buffer spans, and one on either side (its start is `data` in the context).
    static func packetPages(_ run: SocketFilterRun, length: Int) -> [UInt64] {
        let context = run.input.regions.regions[0]
        let data = UnsafeRawPointer(bitPattern: UInt(context.start))!.load(as: UInt64.self)
        let first = data & ~UInt64(4095)
        return (0...(length + 8192) / 4096).map { first &- 4096 &+ UInt64($0) * 4096 }
    }
}
