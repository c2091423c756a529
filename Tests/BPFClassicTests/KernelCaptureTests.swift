import BPFCommandTestSupport
import BPFKit
import BPFPcap
import Foundation
import Testing

/// `bpfkit run --pcap` against the running kernel: the same XDP object
/// loaded with bpftool, each packet run with `BPF_PROG_TEST_RUN`; verdicts,
/// output packets and the maps after the whole capture must agree. Needs
/// root, bpftool and a kernel that permits bpf(); otherwise it does nothing.
@Suite struct KernelCaptureTests {
    static let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let clang = "/opt/swift/usr/bin/clang"

    static func process(_ path: String, _ arguments: [String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Compiles `example`, loads it into the kernel (pinned in this process's
    /// own bpffs) and returns the program's and the maps' pin directories.
    static func load(_ example: String, tag: String) throws -> (program: String, maps: String)? {
        guard let bpftool, geteuid() == 0, FileManager.default.isExecutableFile(atPath: clang),
              case .success(let mount) = PrivateBPFFilesystem.mountPoint else { return nil }
        let source = RunCaptureTests.examples.appendingPathComponent(example)
        let object = RunCaptureTests.dir.appendingPathComponent("\(tag).o").path
        let includes = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/include")) ?? [])
            .filter { FileManager.default.fileExists(atPath: "/usr/include/\($0)/asm/types.h") }.map { "-I/usr/include/\($0)" }
        let compiled = try process(clang, ["-O2", "-g", "-target", "bpf", "-mcpu=v3"] + includes + ["-c", source.path, "-o", object])
        guard compiled.0 == 0 else { return nil }
        let programs = "\(mount)/capture-\(tag)-\(getpid())-progs", maps = "\(mount)/capture-\(tag)-\(getpid())-maps"
        try? FileManager.default.createDirectory(atPath: maps, withIntermediateDirectories: true)
        let loaded = try process(bpftool, ["prog", "loadall", object, programs, "type", "xdp", "pinmaps", maps])
        guard loaded.0 == 0, let name = try FileManager.default.contentsOfDirectory(atPath: programs).first else { return nil }
        return ("\(programs)/\(name)", maps)
    }

    static func kernelRun(_ program: String, _ packet: [UInt8]) throws -> (UInt64, [UInt8]) {
        let base = RunCaptureTests.dir.appendingPathComponent("kernel-\(UUID().uuidString)")
        let input = base.appendingPathExtension("in"), output = base.appendingPathExtension("out")
        try Data(packet).write(to: input)
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        let (status, out, err) = try process(bpftool!, ["prog", "run", "pinned", program, "data_in", input.path, "data_out", output.path,
                                                        "data_size_out", "8192", "repeat", "1"])
        guard status == 0, let range = out.range(of: "Return value: ") else { throw CaptureError(path: program, "bpftool: \(out) \(err)") }
        return (UInt64(out[range.upperBound...].prefix { $0.isNumber }) ?? .max, [UInt8](try Data(contentsOf: output)))
    }

    static let names: [UInt64: String] = [0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"]

    @Test func swapMacMatchesTheKernel() throws {
        guard let (program, maps) = try Self.load("xdp_swap_mac.c", tag: "swap") else { return }
        defer { try? FileManager.default.removeItem(atPath: (program as NSString).deletingLastPathComponent); try? FileManager.default.removeItem(atPath: maps) }
        let packets = Array(RunCaptureTests.packets.filter { $0.bytes.count >= 14 }.prefix(120))
        let input = RunCaptureTests.dir.appendingPathComponent("kernel-swap.pcap").path
        try CaptureWriter.write(packets, to: input)
        var verdicts: [String: Int] = [:]
        var forwarded: [[UInt8]] = []
        for packet in packets {
            let (r0, out) = try Self.kernelRun(program, packet.bytes)
            verdicts[Self.names[r0] ?? "\(r0)", default: 0] += 1
            if r0 == 2 || r0 == 3 { forwarded.append(out) }
        }
        let output = RunCaptureTests.dir.appendingPathComponent("kernel-swap-out.pcap").path
        let result = try bpfkit(["run", RunCaptureTests.examples.appendingPathComponent("xdp_swap_mac.c").path, "--pcap", input,
                                 "--pcap-out", output, "--engine", "jit", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["verdicts"] as? [String: Int] == verdicts)
        #expect(try CaptureReader(path: output).readAll().map(\.bytes) == forwarded)
    }

    @Test func protoCountMapsMatchTheKernel() throws {
        guard let (program, maps) = try Self.load("xdp_proto_count.c", tag: "count") else { return }
        defer { try? FileManager.default.removeItem(atPath: (program as NSString).deletingLastPathComponent); try? FileManager.default.removeItem(atPath: maps) }
        let packets = Array(RunCaptureTests.packets.filter { $0.bytes.count >= 14 }.prefix(120))
        let input = RunCaptureTests.dir.appendingPathComponent("kernel-count.pcap").path
        try CaptureWriter.write(packets, to: input)
        for packet in packets { _ = try Self.kernelRun(program, packet.bytes) }
        let (status, dump, _) = try Self.process(Self.bpftool!, ["-j", "map", "dump", "pinned", "\(maps)/protocol_counts"])
        #expect(status == 0)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [[String: Any]])
        func hex(_ value: Any?) -> String {
            ((value as? [String]) ?? []).map { $0.dropFirst(2).count == 1 ? "0" + $0.dropFirst(2) : String($0.dropFirst(2)) }.joined(separator: " ")
        }
        let kernelLines = Set(entries.map { "  \(hex($0["key"])) => \(hex($0["value"]))" })
        let result = try bpfkit(["run", RunCaptureTests.examples.appendingPathComponent("xdp_proto_count.c").path, "--pcap", input,
                                 "--engine", "jit", "--dump-maps"])
        #expect(result.status == 0)
        let ours = Set(result.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.map(String.init))
        #expect(!kernelLines.isEmpty)
        #expect(ours == kernelLines)
    }
}
