import BPFCommandTestSupport
import BPFClassic
import BPFJIT
import BPFKit
import BPFPcap
import BPFRuntime
import Foundation
import Testing

/// Filter expressions over made captures: BPFKit's count equals tcpdump's and
/// libpcap's `pcap_offline_filter`, packet by packet, on the interpreter and
/// the x86-64 JIT.
@Suite struct FilterParityTests {
    static let expressions = [
        "tcp", "udp", "icmp", "arp", "ip", "ip6", "not ip", "ether broadcast", "ether multicast",
        "tcp port 80", "udp port 53", "port 443", "dst port 8080", "src port 22", "portrange 1000-6000",
        "net 10.0.0.0/8", "host 192.168.1.20", "src net 172.16.0.0/16", "dst host 8.8.8.8", "ip6 host 2001:db8::7",
        "ip6 and tcp port 443", "vlan", "vlan 10", "vlan and tcp", "vlan 20 and udp port 53", "not vlan",
        "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "tcp[tcpflags] & tcp-rst != 0",
        "tcp[13] == 0x18", "ip[9] == 17", "ether[0] & 1 != 0", "ip[6:2] & 0x1fff != 0", "ip[2:2] > 100",
        "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x41414141", "icmp[icmptype] == icmp-echo",
        "greater 200", "less 100", "len >= 128", "len % 3 == 1", "(len * 3) / 7 > 50", "ip[8] >> 2 == 16",
        "tcp[0:2] ^ tcp[2:2] != 0", "ip[1] - 1 == 255",
        "tcp and not port 80", "(tcp port 80 or udp port 53) and net 10.0.0.0/8",
        "not (tcp or udp)", "ip and (greater 100 or less 60) and not icmp",
    ]

    static let captureURL: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-classic-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("mixed.pcap")
    }()

    static let packets = Packets.mixed(count: 600)

    static func writeCapture() throws -> String {
        let path = captureURL.path
        if !FileManager.default.fileExists(atPath: path) { try CaptureWriter.write(packets, to: path) }
        return path
    }

    /// tcpdump's count of packets matching `expression` in `path`.
    static func tcpdumpCount(_ expression: String, path: String) throws -> Int? {
        guard let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile) else {
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tcpdump)
        process.arguments = ["-nn", "-q", "-r", path, expression]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "tcpdump failed on '\(expression)'")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").count
    }

    @Test(arguments: [EngineKind.interpreter, EngineKind.jit])
    func countsMatchTcpdumpAndLibpcap(engineKind: EngineKind) throws {
        let path = try Self.writeCapture()
        let packets = try CaptureReader(path: path).readAll()
        #expect(packets == Self.packets)
        let engine = try EngineCatalog.engine(engineKind)
        var nonTrivial = 0
        for expression in Self.expressions {
            let compiled = try FilterExpression(expression, linkType: LinkType.ethernet)
            let filter = try ClassicFilter(compiled.program, engine: engine)
            var count = 0, libpcapCount = 0
            for (index, packet) in packets.enumerated() {
                let ours = try filter.run(packet.bytes, metadata: .forCapture(packet, linkType: LinkType.ethernet))
                let theirs = compiled.offlineFilter(packet)
                #expect(ours == theirs, "'\(expression)' on record \(index + 1): BPFKit \(ours), libpcap \(theirs)")
                if ours != 0 { count += 1 }
                if theirs != 0 { libpcapCount += 1 }
            }
            #expect(count == libpcapCount)
            if let reference = try Self.tcpdumpCount(expression, path: path) {
                #expect(count == reference, "'\(expression)': BPFKit \(count), tcpdump \(reference)")
            }
            if count > 0 && count < packets.count { nonTrivial += 1 }
        }
        // The capture exercises the expressions: nearly all of them split it.
        #expect(nonTrivial >= Self.expressions.count - 3)
    }

    /// Raw IP captures (no link-layer header): libpcap compiles for DLT_RAW,
    /// and the translated programs answer as its interpreter does.
    @Test func rawIPCaptures() throws {
        let packets = Self.packets.compactMap { packet -> CapturedPacket? in
            let b = packet.bytes
            guard b.count > 14, b[12] == 0x08 || b[12] == 0x86 else { return nil }
            return CapturedPacket(seconds: packet.seconds, bytes: Array(b[14...]), wireLength: packet.wireLength - 14)
        }
        #expect(packets.count > 300)
        let engine = try EngineCatalog.engine(.jit)
        for expression in ["ip", "ip6", "tcp port 80", "udp and net 10.0.0.0/8", "ip[9] == 6", "greater 100", "ip6 and tcp", "tcp[13] & 2 != 0"] {
            let compiled = try FilterExpression(expression, linkType: LinkType.raw)
            let filter = try ClassicFilter(compiled.program, engine: engine)
            var count = 0
            for packet in packets {
                let ours = try filter.run(packet.bytes, metadata: .forCapture(packet, linkType: LinkType.raw))
                #expect(ours == compiled.offlineFilter(packet), "'\(expression)'")
                if ours != 0 { count += 1 }
            }
            #expect(count > 0 && count < packets.count, "'\(expression)' splits nothing")
        }
    }

    /// The verifier proves every packet load of the translated programs, so
    /// the JIT runs them without run-time checks.
    @Test func translatedLoadsAreProven() throws {
        for expression in Self.expressions {
            let compiled = try FilterExpression(expression, linkType: LinkType.ethernet)
            let filter = try ClassicFilter(compiled.program, engine: try EngineCatalog.engine(.interpreter))
            let report = filter.linked.verification
            #expect(report.gaveUp == nil)
            #expect(report.unproven.isEmpty, "'\(expression)': \(report.unproven.map { "\($0.pc): \($0.reason)" })")
            #expect(report.proofs.terminates)
            // So the x86-64 JIT's code needs no run context: no check, guard or call left.
            let jit = try ClassicFilter(compiled.program, engine: try EngineCatalog.engine(.jit))
            let native = try #require(jit.prepared as? NativeProgram)
            #expect(!native.usesRunContext, "'\(expression)'")
        }
    }

    @Test func commandCountsAndWrites() throws {
        let path = try Self.writeCapture()
        let out = Self.captureURL.deletingLastPathComponent().appendingPathComponent("out-\(UUID().uuidString).pcap").path
        for engine in ["interpreter", "jit"] {
            let result = try bpfkit(["filter", "tcp port 80 or arp", path, "--engine", engine, "--count", "--write", out])
            #expect(result.status == 0, "\(result.stderr)")
            let expected = try Self.tcpdumpCount("tcp port 80 or arp", path: path)
                ?? Self.packets.filter { try! FilterExpression("tcp port 80 or arp", linkType: 1).offlineFilter($0) != 0 }.count
            #expect(result.stdout == "\(expected) of \(Self.packets.count) packets match\n")
            let written = try CaptureReader(path: out).readAll()
            #expect(written.count == expected)
            let compiled = try FilterExpression("tcp port 80 or arp", linkType: LinkType.ethernet)
            #expect(written == Self.packets.filter { compiled.offlineFilter($0) != 0 })
        }
        let listing = try bpfkit(["filter", "tcp port 80", path])
        let lines = listing.stdout.split(separator: "\n")
        #expect(lines.last?.hasSuffix("packets match") == true)
        #expect(lines.count == Int(lines.last!.split(separator: " ")[0])! + 1)
        let dump = try bpfkit(["filter", "ip6 and udp", "--dump"])
        #expect(dump.status == 0)
        #expect(dump.stdout.contains("(000) ldh      [12]"))
        #expect(dump.stdout.contains("eBPF ("))
        #expect(dump.stdout.contains("= be16 r0"))
        // A classic program from a file: tcpdump -ddd text and struct sock_filter bytes count the same.
        let program = try FilterExpression("udp or icmp", linkType: LinkType.ethernet).program
        let expected = try bpfkit(["filter", "udp or icmp", path, "--count"]).stdout
        let dir = Self.captureURL.deletingLastPathComponent()
        let textFile = dir.appendingPathComponent("prog.ddd").path, binaryFile = dir.appendingPathComponent("prog.bin").path
        try Data(program.text.utf8).write(to: URL(fileURLWithPath: textFile))
        try Data(program.bytes).write(to: URL(fileURLWithPath: binaryFile))
        for file in [textFile, binaryFile] {
            let result = try bpfkit(["filter", file, path, "--cbpf", "--count", "--engine", "jit"])
            #expect(result.stdout == expected && result.status == 0, "\(file): \(result.stderr)")
        }
        let badFile = dir.appendingPathComponent("bad.ddd").path
        try Data("2\n40 0 0 12\n21 0 5 2048\n".utf8).write(to: URL(fileURLWithPath: badFile))
        let badProgram = try bpfkit(["filter", badFile, path, "--cbpf"])
        #expect(badProgram.status == 1)
        #expect(badProgram.stderr.contains("bad.ddd: cBPF instruction 1: jump if true to 2 is past the last instruction (1)"))
        let bad = try bpfkit(["filter", "tcp port", path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("filter 'tcp port'"))
    }
}
