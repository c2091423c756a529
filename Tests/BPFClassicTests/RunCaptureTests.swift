import BPFCommandTestSupport
import BPFPcap
import Foundation
import Testing

/// `bpfkit run PROG --pcap IN`: an XDP program over every packet of a
/// capture, maps kept across packets, the forwarded packets written as the
/// program left them. Expected verdicts, packets and counters are worked out
/// here from the programs' C source, independently of any engine.
@Suite struct RunCaptureTests {
    static let dir: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-runpcap-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()
    static let examples = Paths.root.appendingPathComponent("examples")

    /// The mixed capture and one frame too short for an Ethernet header.
    /// Every seventh IPv4 packet has a TTL of 1 (XDP_DROP for swap_mac).
    static let packets = Packets.mixed(count: 300, seed: 99).enumerated().map { index, packet in
        var packet = packet
        if index % 7 == 0, packet.bytes.count >= 34, packet.bytes[12] == 8, packet.bytes[13] == 0 { packet.bytes[22] = 1 }
        return packet
    } + [CapturedPacket(bytes: [UInt8](repeating: 1, count: 10))]

    static func capture() throws -> String {
        let path = dir.appendingPathComponent("in.pcap").path
        if !FileManager.default.fileExists(atPath: path) { try CaptureWriter.write(packets, to: path) }
        return path
    }

    /// What examples/xdp_swap_mac.c does to one packet: verdict and bytes.
    static func swapMac(_ p: [UInt8]) -> (String, [UInt8]) {
        guard p.count >= 14 else { return ("error", p) }
        guard p[12] == 0x08, p[13] == 0x00 else { return ("XDP_PASS", p) }
        guard p.count >= 34, p[14] & 0x0f == 5 else { return ("XDP_PASS", p) }
        guard p[22] > 1 else { return ("XDP_DROP", p) }
        var q = p
        q.replaceSubrange(0..<6, with: p[6..<12])
        q.replaceSubrange(6..<12, with: p[0..<6])
        q.replaceSubrange(26..<30, with: p[30..<34])
        q.replaceSubrange(30..<34, with: p[26..<30])
        q[22] -= 1
        q[24] = 0
        q[25] = 0
        var sum: UInt32 = 0
        for i in stride(from: 14, to: 34, by: 2) { sum += UInt32(q[i]) << 8 | UInt32(q[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let check = ~UInt16(sum)
        q[24] = UInt8(check >> 8)
        q[25] = UInt8(check & 0xff)
        return ("XDP_TX", q)
    }

    @Test(arguments: ["interpreter", "jit"])
    func swapMacVerdictsAndPackets(engine: String) throws {
        let input = try Self.capture()
        let output = Self.dir.appendingPathComponent("out-\(engine).pcap").path
        let result = try bpfkit(["run", Self.examples.appendingPathComponent("xdp_swap_mac.c").path, "--pcap", input,
                                 "--pcap-out", output, "--engine", engine, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = Self.packets.map { Self.swapMac($0.bytes) }
        var verdicts: [String: Int] = [:]
        for (verdict, _) in expected where verdict != "error" { verdicts[verdict, default: 0] += 1 }
        #expect(verdicts.count == 3)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["packets"] as? Int == Self.packets.count)
        #expect(json["verdicts"] as? [String: Int] == verdicts)
        #expect(json["errors"] as? [String: Int] == ["packet too small": 1])
        #expect((json["packets_per_second"] as? Int ?? 0) > 0)
        let forwarded = zip(Self.packets, expected).filter { $0.1.0 == "XDP_PASS" || $0.1.0 == "XDP_TX" }
        let written = try CaptureReader(path: output).readAll()
        #expect(json["written"] as? Int == forwarded.count)
        #expect(written.map(\.bytes) == forwarded.map(\.1.1))
        #expect(written.map(\.seconds) == forwarded.map(\.0.seconds))
        #expect(written.map(\.wireLength) == forwarded.map(\.0.wireLength))
        #expect(!result.stdout.contains("\r"))  // no progress bar into a pipe
    }

    /// examples/xdp_proto_count.c counts packets and bytes per IPv4 protocol
    /// (or 0x10000 | EtherType) in a hash map; the map persists across the
    /// capture, so its counters are the capture's totals.
    @Test func countersPersistAcrossPackets() throws {
        let input = try Self.capture()
        let result = try bpfkit(["run", Self.examples.appendingPathComponent("xdp_proto_count.c").path, "--pcap", input,
                                 "--engine", "jit", "--dump-maps"])
        #expect(result.status == 0, "\(result.stderr)")
        var counts: [UInt32: (UInt64, UInt64)] = [:]
        var drops = 0
        for packet in Self.packets where packet.bytes.count >= 14 {
            let p = packet.bytes
            let type = UInt32(p[12]) << 8 | UInt32(p[13])
            var key = 0x10000 | type
            if type == 0x800 {
                guard p.count >= 34 else { drops += 1; continue }
                key = UInt32(p[23])
            }
            counts[key, default: (0, 0)].0 += 1
            counts[key, default: (0, 0)].1 += UInt64(p.count)
        }
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("verdicts: XDP_DROP \(drops), XDP_PASS \(Self.packets.count - 1 - drops)"))
        #expect(lines.contains("errors: packet too small 1"))
        func hex<T: FixedWidthInteger>(_ v: T) -> String {
            withUnsafeBytes(of: v.littleEndian) { $0.map { String(format: "%02x", $0) }.joined(separator: " ") }
        }
        for (key, (packets, bytes)) in counts {
            #expect(lines.contains("  \(hex(key)) => \(hex(packets)) \(hex(bytes))"), "key 0x\(String(key, radix: 16))")
        }
        #expect(lines.filter { $0.hasPrefix("  ") }.count == counts.count)
    }

    /// On a terminal (a pseudo-terminal from script(1)) a long capture shows a progress bar.
    @Test func progressBarOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let input = Self.dir.appendingPathComponent("long.pcap").path
        try CaptureWriter.write(Packets.mixed(count: 1_200, seed: 5), to: input)
        let program = Self.examples.appendingPathComponent("xdp_proto_count.c").path
        let command = "'\(Paths.bpfkit.path)' run '\(program)' --pcap '\(input)' --engine jit"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        process.standardInput = Pipe()
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains(" ] 1024 packets"))  // partway: the bar follows the position in the file
        #expect(text.contains("\r[########################################] 1200 packets"))
        #expect(text.contains("packets: 1200"))
    }

    @Test func refusesWhatItCannotRun() throws {
        let raw = Self.dir.appendingPathComponent("raw.pcap").path
        try CaptureWriter.write([CapturedPacket(bytes: [0x45] + [UInt8](repeating: 0, count: 19))], to: raw, linkType: LinkType.raw)
        let program = Self.examples.appendingPathComponent("xdp_proto_count.c").path
        let wrongLink = try bpfkit(["run", program, "--pcap", raw])
        #expect(wrongLink.status == 1)
        #expect(wrongLink.stderr.contains("link type RAW: xdp programs take Ethernet frames"))
        let missing = try bpfkit(["run", program, "--pcap", "/nonexistent.pcap"])
        #expect(missing.status == 1)
        let outOnly = try bpfkit(["run", program, "--pcap-out", Self.dir.appendingPathComponent("x.pcap").path])
        #expect(outOnly.status == 1)
        #expect(outOnly.stderr.contains("--pcap-out needs --pcap"))
    }
}
