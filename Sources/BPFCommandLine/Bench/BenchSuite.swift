import Foundation

/// One program of the benchmark suite (`bench/*.c`) and the packet it runs on.
struct BenchCase: Sendable {
    /// Row name in the report.
    let name: String
    /// C source in the suite folder.
    let source: String
    /// The program's function (the XDP entry point; for the tail-call
    /// pipeline, the first stage).
    let program: String
    /// What the row measures, for the report.
    let summary: String
    /// The XDP packet every run sees (the kernel's `data_in`).
    let packet: [UInt8]
}

/// The suite: what each program is run on. Each C file documents its input
/// and result; `bpfkit bench` checks that every engine returns the same value.
enum BenchSuite {
    static func cases() -> [BenchCase] {
        let full = BenchPackets.tcp(frameSize: 1_514)
        return [
            BenchCase(name: "int_loop", source: "int_loop.c", program: "int_loop",
                      summary: "1,000 rounds of xorshift64 (tight integer loop)", packet: full),
            BenchCase(name: "checksum", source: "checksum.c", program: "tcp_checksum",
                      summary: "IPv4 + TCP checksum over a 1,500-byte packet", packet: full),
            BenchCase(name: "flow_lookup", source: "flow_lookup.c", program: "flow_lookup",
                      summary: "5-tuple parse and hash-map lookup", packet: BenchPackets.tcp(frameSize: 128)),
            BenchCase(name: "fnv1a", source: "fnv1a.c", program: "fnv1a",
                      summary: "FNV-1a over 1 KiB", packet: BenchPackets.tcp(frameSize: 1_024)),
            BenchCase(name: "fnv1a_1500", source: "fnv1a.c", program: "fnv1a",
                      summary: "FNV-1a over 1,500 bytes", packet: BenchPackets.tcp(frameSize: 1_500)),
            BenchCase(name: "crc32", source: "crc32.c", program: "crc32",
                      summary: "CRC-32 (table) over 1 KiB", packet: BenchPackets.tcp(frameSize: 1_024)),
            BenchCase(name: "sort", source: "sort.c", program: "sort64",
                      summary: "sort of 64 words on the stack", packet: full),
            BenchCase(name: "bsort", source: "bsort.c", program: "bsort",
                      summary: "bubble sort of 32 words (compare-exchange at a variable index)", packet: full),
            BenchCase(name: "crc32_bitwise", source: "crc32_bitwise.c", program: "crc32_bitwise",
                      summary: "CRC-32 bit by bit (no table) over 256 bytes", packet: full),
            BenchCase(name: "tokenizer", source: "tokenizer.c", program: "tokenizer",
                      summary: "branchy tokenizer over 1 KiB of payload", packet: full),
            BenchCase(name: "matmul", source: "matmul.c", program: "matmul",
                      summary: "8 x 8 matrix multiply (multiply-add chains)", packet: full),
            BenchCase(name: "local_calls", source: "local_calls.c", program: "local_calls",
                      summary: "768 bpf-to-bpf calls", packet: full),
            BenchCase(name: "tail_calls", source: "tail_calls.c", program: "pipeline",
                      summary: "pipeline of 4 programs joined by tail calls", packet: full),
            BenchCase(name: "map_updates", source: "map_updates.c", program: "map_updates",
                      summary: "64 map updates (hash and array)", packet: full),
            BenchCase(name: "helper_calls", source: "helper_calls.c", program: "helper_calls",
                      summary: "64 helper calls (hash-map lookups)", packet: full),
        ]
    }

    /// The suite folder: `path` if given, else `bench/` in the current
    /// directory or one above it, else beside the executable's checkout.
    static func folder(_ path: String?) throws(BenchError) -> URL {
        let fm = FileManager.default
        func isSuite(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("bench.h").path) }
        if let path {
            let url = URL(fileURLWithPath: path)
            guard isSuite(url) else { throw BenchError("\(path) is not the benchmark suite (no bench.h)") }
            return url
        }
        var starts = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        for start in starts {
            var directory = start
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("bench")
                if isSuite(candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw BenchError("cannot find the benchmark suite (bench/bench.h); run from the repository or give --suite DIR")
    }
}

/// Packets for the suite: Ethernet, IPv4 without options, TCP, with right
/// checksums and a deterministic payload.
enum BenchPackets {
    /// A frame of `frameSize` bytes (at least 54).
    static func tcp(frameSize: Int) -> [UInt8] {
        precondition(frameSize >= 54, "an Ethernet + IPv4 + TCP frame has at least 54 bytes")
        let source: [UInt8] = [10, 0, 0, 1], destination: [UInt8] = [10, 0, 0, 2]
        let payload = (0..<(frameSize - 54)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        var tcp: [UInt8] = [0x30, 0x39, 0x00, 0x50,      // ports 12345 -> 80
                            0, 0, 0, 1, 0, 0, 0, 0,      // sequence, acknowledgement
                            0x50, 0x18, 0xff, 0xff,      // header length 20, PSH|ACK, window
                            0, 0, 0, 0] + payload        // checksum, urgent pointer
        let pseudo = source + destination + [0, 6] + be16(tcp.count)
        tcp.replaceSubrange(16..<18, with: be16(Int(checksum(pseudo + tcp))))
        var ip: [UInt8] = [0x45, 0] + be16(20 + tcp.count) + [0, 1, 0, 0, 64, 6, 0, 0] + source + destination
        ip.replaceSubrange(10..<12, with: be16(Int(checksum(ip))))
        let ethernet: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        return ethernet + ip + tcp
    }

    static func be16(_ value: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)] }

    /// The Internet checksum (RFC 1071) of big-endian 16-bit words.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for i in stride(from: 0, to: bytes.count, by: 2) {
            sum += UInt32(bytes[i]) << 8 | UInt32(i + 1 < bytes.count ? bytes[i + 1] : 0)
        }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

/// A benchmark that cannot go on, with the reason.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
