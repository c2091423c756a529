import BPFCommandTestSupport
import Foundation
import Testing

/// `bpfkit run --map-init FILE.json` and `--dump-maps --json` on the tc filter example.
@Suite(.enabled(if: canCompileC, "clang and <bpf/bpf_helpers.h> are needed to build the example"))
struct MapInitCommandTests {
    static let engines: [String] = {
        #if arch(x86_64)
        ["interpreter", "jit"]
        #else
        ["interpreter"]
        #endif
    }()

    /// A per-CPU entry's copies: "value" when all are equal, else "values".
    func copies(_ entry: Any?) -> [String] {
        let entry = entry as? [String: Any]
        return (entry?["values"] as? [String]) ?? [(entry?["value"] as? String) ?? "missing"]
    }

    func run(_ engine: String = "interpreter", _ json: String, _ extra: [String] = []) throws -> CommandResult {
        let file = try temporaryFile("maps-\(UUID().uuidString).json", text: json)
        return try bpfkit(["run", "examples/tc_filter.c", "--data-in", "examples/packets/ipv4_udp.bin", "--engine", engine,
                           "--map-init", file] + extra)
    }

    /// The packet's source is 10.0.0.1: blocked, it is dropped (TC_ACT_SHOT) and counted.
    @Test(arguments: engines)
    func filledMapsTakeTheConfiguredPath(_ engine: String) throws {
        var result = try run(engine, #"{"blocked": [{"key": "0a 00 00 01", "value": "05 00 00 00 00 00 00 00"}]}"#, ["--dump-maps", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["retval"] as? Int == 2)
        let maps = try #require(object["maps"] as? [String: [[String: Any]]])
        #expect(maps["blocked"]?.first?["value"] as? String == "06 00 00 00 00 00 00 00")
        let stats = copies(maps["stats"]?.first)
        #expect(stats.contains("01 00 00 00 00 00 00 00"), "\(stats)")
        #expect(maps["config"]?.count == 2)

        // Another source: passed with the configured mark, then the tail call reports it.
        result = try run(engine, #"{"blocked": [{"key": "0a000002", "value": "0000000000000000"}], "config": [{"key": "00 00 00 00", "value": "07 00 00 00"}], "next": [{"key": "00 00 00 00", "value": {"program": "tc_report"}}]}"#)
        #expect(result.status == 0 && result.stdout == "0x6b\n", "\(result.stdout) \(result.stderr)")
        // Unfilled: passed, no mark, no tail call.
        result = try run(engine, "{}")
        #expect(result.status == 0 && result.stdout == "0x0\n", "\(result.stdout) \(result.stderr)")
    }

    /// {"map": NAME} puts an inner map in a hash of maps: the program finds it
    /// (the inner value, counted to 1) where it found nothing (100) before.
    @Test func mapsOfMapsTakeInnerMaps() throws {
        var packet = [UInt8](repeating: 0, count: 64)
        packet[14] = 5
        let input = try temporaryFile("slot5-\(UUID().uuidString).bin", packet)
        let program = "Tests/Fixtures/bpf-programs/map_in_map.c"
        func run(_ json: String?) throws -> CommandResult {
            var arguments = ["run", program, "--program", "count_hash", "--data-in", input]
            if let json { arguments += ["--map-init", try temporaryFile("mim-\(UUID().uuidString).json", text: json)] }
            return try bpfkit(arguments)
        }
        var result = try run(nil)
        #expect(result.status == 0 && result.stdout == "0x64\n", "\(result.stdout) \(result.stderr)")
        result = try run(#"{"by_hash": [{"key": "05 00 00 00", "value": {"map": "inner_b"}}]}"#)
        #expect(result.status == 0 && result.stdout == "0x1\n", "\(result.stdout) \(result.stderr)")
        result = try run(#"{"by_hash": [{"key": "05 00 00 00", "value": {"map": "nope"}}]}"#)
        #expect(result.status != 0 && result.stderr.contains("map 'by_hash' entry 0: no map 'nope'"), "\(result.stderr)")
        result = try run(#"{"by_hash": [{"key": "05 00 00 00", "value": "00"}]}"#)
        #expect(result.status != 0 && result.stderr.contains("a map-of-maps value is {\"map\": NAME}"), "\(result.stderr)")
    }

    /// A tc program over a capture: verdicts named TC_ACT_*, the maps filled
    /// first and kept across packets, passed packets (TC_ACT_OK) written out.
    @Test func tcProgramsRunOverCaptures() throws {
        let packet = try [UInt8](Data(contentsOf: Paths.root.appendingPathComponent("examples/packets/ipv4_udp.bin")))
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var capture = le32(0xa1b2_c3d4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65_535) + le32(1)
        for i in 0..<3 { capture += le32(UInt32(i)) + le32(0) + le32(UInt32(packet.count)) + le32(UInt32(packet.count)) + packet }
        let input = try temporaryFile("tc-\(UUID().uuidString).pcap", capture)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tc-out-\(UUID().uuidString).pcap").path
        var result = try bpfkit(["run", "examples/tc_filter.c", "--pcap", input, "--pcap-out", output])
        #expect(result.status == 0 && result.stdout.contains("verdicts: TC_ACT_OK 3") && result.stdout.contains("written: 3"),
                "\(result.stdout) \(result.stderr)")
        let blocked = try temporaryFile("blocked-\(UUID().uuidString).json", text: #"{"blocked": [{"key": "0a 00 00 01", "value": "00 00 00 00 00 00 00 00"}]}"#)
        result = try bpfkit(["run", "examples/tc_filter.c", "--pcap", input, "--map-init", blocked, "--dump-maps", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
        #expect((object["verdicts"] as? [String: Int]) == ["TC_ACT_SHOT": 3])
        let maps = try #require(object["maps"] as? [String: [[String: Any]]])
        #expect(maps["blocked"]?.first?["value"] as? String == "03 00 00 00 00 00 00 00", "counted across the packets: \(maps)")
    }

    /// A dump fed back as --map-init gives the same maps.
    @Test func dumpsRoundTrip() throws {
        let first = try run("interpreter", #"{"config": [{"key": "01 00 00 00", "value": "2a 00 00 00"}], "stats": [{"key": "00000000", "value": "0900000000000000"}]}"#, ["--dump-maps", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let dumped = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let maps = try #require(dumped["maps"] as? [String: Any])
        let stats = copies((maps["stats"] as? [Any])?.first)
        #expect(stats.contains("0a 00 00 00 00 00 00 00"), "\(stats)")
        // The whole result (its "maps" member) is accepted as it is.
        let again = try run("interpreter", first.stdout, ["--dump-maps", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let secondMaps = try #require(second["maps"] as? [String: Any])
        let secondStats = copies((secondMaps["stats"] as? [Any])?.first)
        #expect(secondStats.contains("0b 00 00 00 00 00 00 00"), "\(secondStats)")
        #expect((secondMaps["config"] as? [[String: Any]])?[1]["value"] as? String == "2a 00 00 00")
    }

    @Test func badInputNamesTheMapAndTheEntry() throws {
        let cases: [(String, String)] = [
            (#"{"nosuch": []}"#, "map 'nosuch': no such map"),
            (#"{"config": [{"key": "00 00 00", "value": "00 00 00 00"}]}"#, "map 'config' entry 0: key is 3 bytes; the map's keys are 4 bytes"),
            (#"{"config": [{"key": "00000000", "value": "00 00 00 00"}, {"key": "01000000", "value": "00 00 00 00 00"}]}"#, "map 'config' entry 1: value is 5 bytes; the map's values are 4 bytes"),
            (#"{"config": [{"key": "0x000000", "value": "00000000"}]}"#, "map 'config' entry 0: key: '0x000000' is not hex bytes"),
            (#"{"config": [{"key": "000", "value": "00000000"}]}"#, "odd number of hex digits"),
            (#"{"config": [{"key": "02000000", "value": "00000000"}]}"#, "map 'config' entry 0:"),
            (#"{"config": [{"key": "00000000"}]}"#, "map 'config' entry 0: missing \"value\""),
            (#"{"config": [{"key": "00000000", "value": "00000000", "extra": 1}]}"#, "unknown field 'extra'"),
            (#"{"config": {"key": "00000000"}}"#, "map 'config': expected a list"),
            (#"{"next": [{"key": "00000000", "value": "00000000"}]}"#, "map 'next' entry 0: a prog_array value is {\"program\": NAME}"),
            (#"{"next": [{"key": "00000000", "value": {"program": "nosuch"}}]}"#, "map 'next' entry 0: cannot put program 'nosuch'"),
            (#"{"config": [{"key": "00000000", "value": {"program": "tc_report"}}]}"#, "fills a prog_array"),
            (#"{"config": [{"key": "00000000", "value": {"map": "stats"}}]}"#, "maps of maps"),
            (#"{"config": [{"key": "00000000", "values": ["00000000"]}]}"#, "for per-CPU maps"),
            (#"[1, 2]"#, "the top level must be an object"),
            (#"{"config": [{"key": "#, "not valid JSON"),
        ]
        for (json, message) in cases {
            let result = try run("interpreter", json)
            #expect(result.status != 0 && result.stderr.contains(message), "\(json): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(json): nothing runs")
        }
    }

    @Test func tcProgramsRunFromTheCommandLine() throws {
        let result = try bpfkit(["run", "examples/tc_filter.c", "--program", "tc_report", "--data-in", "examples/packets/ipv4_udp.bin",
                                 "--type", "sched_cls"])
        #expect(result.status == 0 && result.stdout == "0x64\n", "\(result.stdout) \(result.stderr)")
    }
}
