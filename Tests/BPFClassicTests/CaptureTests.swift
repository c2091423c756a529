import BPFCommandTestSupport
import BPFClassic
import BPFKit
import BPFPcap
import Foundation
import Testing

/// Reading and writing captures through libpcap; malformed captures give
/// errors naming the record; the reader survives corrupted files.
@Suite struct CaptureTests {
    static let dir: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-capture-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static func validCapture(count: Int = 20) throws -> [UInt8] {
        let p = path("valid-\(count).pcap")
        try CaptureWriter.write(Packets.mixed(count: count, seed: 42), to: p, snapshotLength: 4096)
        return Array(try Data(contentsOf: URL(fileURLWithPath: p)))
    }

    static func readError(_ bytes: [UInt8], name: String) throws -> CaptureError? {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        do {
            _ = try CaptureReader(path: p).readAll()
            return nil
        } catch {
            return error
        }
    }

    @Test func roundTripsThroughLibpcap() throws {
        let packets = Packets.mixed(count: 50, seed: 7)
        let p = Self.path("round.pcap")
        try CaptureWriter.write(packets, to: p, snapshotLength: 4096)
        let reader = try CaptureReader(path: p)
        #expect(reader.linkType == LinkType.ethernet)
        #expect(reader.linkTypeName == "EN10MB")
        #expect(reader.snapshotLength == 4096)
        #expect(try reader.readAll() == packets)
        #expect(reader.recordsRead == 50)
    }

    /// A pcapng file (built here block by block: section header, interface
    /// description, enhanced packet blocks) reads as the same packets.
    /// A pcapng file of `packets`: section header, interface description, enhanced packet blocks.
    static func pcapng(_ packets: [CapturedPacket]) -> [UInt8] {
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let length = UInt32(12 + body.count)
            return u32(type) + u32(length) + body + u32(length)
        }
        var file = block(0x0a0d_0d0a, u32(0x1a2b_3c4d) + u16(1) + u16(0) + [UInt8](repeating: 0xff, count: 8))
        file += block(1, u16(1) + u16(0) + u32(65_535))
        for packet in packets {
            let stamp = UInt64(packet.seconds) * 1_000_000 + UInt64(packet.microseconds)
            let padding = [UInt8](repeating: 0, count: (4 - packet.bytes.count % 4) % 4)
            file += block(6, u32(0) + u32(UInt32(stamp >> 32)) + u32(UInt32(stamp & 0xffff_ffff))
                          + u32(UInt32(packet.bytes.count)) + u32(packet.wireLength) + packet.bytes + padding)
        }
        return file
    }

    @Test func readsPcapng() throws {
        let packets = Packets.mixed(count: 30, seed: 3)
        let file = Self.pcapng(packets)
        let p = Self.path("mixed.pcapng")
        try Data(file).write(to: URL(fileURLWithPath: p))
        let reader = try CaptureReader(path: p)
        #expect(reader.linkType == LinkType.ethernet)
        #expect(try reader.readAll() == packets)
        // Cut inside the tenth packet block: an error naming record 10.
        var cut = file
        var offset = 28 + 20
        for _ in 0..<9 {
            offset += Int(cut[offset + 4]) | Int(cut[offset + 5]) << 8 | Int(cut[offset + 6]) << 16
        }
        cut = Array(cut.prefix(offset + 30))
        let error = try Self.readError(cut, name: "cut.pcapng")
        #expect(error?.record == 10)
    }

    @Test func malformedCapturesNameTheRecord() throws {
        let valid = try Self.validCapture()
        // Record boundaries of the valid file.
        var offsets: [Int] = []
        var offset = 24
        while offset < valid.count {
            offsets.append(offset)
            let caplen = Int(valid[offset + 8]) | Int(valid[offset + 9]) << 8 | Int(valid[offset + 10]) << 16 | Int(valid[offset + 11]) << 24
            offset += 16 + caplen
        }
        #expect(offsets.count == 20)
        // The file ends inside record 5's data, and inside record 6's header.
        let insideData = try Self.readError(Array(valid.prefix(offsets[4] + 20)), name: "cut-data.pcap")
        #expect(insideData?.record == 5)
        #expect(insideData?.reason.hasPrefix("truncated record:") == true)
        let insideHeader = try Self.readError(Array(valid.prefix(offsets[5] + 7)), name: "cut-header.pcap")
        #expect(insideHeader?.description.hasSuffix("record 6: truncated record header: 7 of 16 bytes") == true)
        // Record 3 claims more bytes than the snapshot length.
        var tooLong = valid
        tooLong[offsets[2] + 8] = 0x01
        tooLong[offsets[2] + 9] = 0x20  // 8193 > 4096
        let snap = try Self.readError(tooLong, name: "caplen.pcap")
        #expect(snap?.record == 3)
        #expect(snap?.reason == "captured length 8193 is larger than the snapshot length 4096")
        // An unknown link type.
        var unknown = valid
        unknown[20] = 0xf0
        unknown[21] = 0x7f
        let link = try Self.readError(unknown, name: "link.pcap")
        #expect(link?.record == nil)
        #expect(link?.reason.contains("32752") == true)
        // A header cut short, and a file that is not a capture.
        #expect(try Self.readError(Array(valid.prefix(10)), name: "short.pcap")?.reason.contains("header") == true)
        #expect(try Self.readError(Array("not a capture at all, really".utf8), name: "text.pcap") != nil)
        // The command line reports the same.
        let result = try bpfkit(["filter", "tcp", Self.path("cut-data.pcap")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("record 5: truncated record"))
    }

    /// Random truncations and bit flips of a valid capture (pcap and pcapng in turn): every read ends
    /// in packets or an error, never a crash; the packets that are read go
    /// through a filter on the JIT.
    @Test func fuzzedCapturesNeverCrash() throws {
        let pcap = try Self.validCapture(count: 12)
        let pcapng = Self.pcapng(Packets.mixed(count: 12, seed: 42))
        let filter = try ClassicFilter(try FilterExpression("tcp port 80 or udp or vlan", linkType: LinkType.ethernet).program,
                                       engine: try EngineCatalog.engine(.jit))
        var rng = Packets.Rng(state: 0xf022)
        var errors = 0, reads = 0
        for round in 0..<600 {
            let valid = round % 2 == 0 ? pcap : pcapng
            var bytes = valid
            if rng.below(3) == 0 { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
            for _ in 0..<(1 + rng.below(8)) where !bytes.isEmpty {
                bytes[rng.below(bytes.count)] ^= UInt8(1) << UInt8(rng.below(8))
            }
            let p = Self.path("fuzz.pcap")
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            do {
                let reader = try CaptureReader(path: p)
                while let packet = try reader.next() {
                    _ = try filter.run(packet.bytes, metadata: .forCapture(packet, linkType: reader.linkType))
                }
                reads += 1
            } catch is CaptureError {
                errors += 1
            }
        }
        #expect(errors > 0 && reads > 0)
    }
}
