import BPFKit
import BPFLoader
import BPFVerifier
import Foundation
import Testing

/// The repository root.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every program of a C file, linked (and so verified) as `bpfkit` loads it.
func linkedPrograms(_ relativePath: String) throws -> [LinkedProgram] {
    let file = try ProgramFile.load(path: repository.appendingPathComponent(relativePath).path)
    guard let object = file.object else { return [file.linked] }
    return try object.object.programs.map { try object.program(named: $0.name, section: $0.section) }
}

let clangAvailable = FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")

/// What the verifier proves about the benchmark programs and the examples:
/// exact counts, so a loss of precision (or a sudden gain) shows.
@Suite(.enabled(if: clangAvailable, "clang and the libbpf headers build the programs"))
struct PrecisionTests {
    /// (file, program, proven, accesses); every one also terminates.
    static let expected: [(String, String, Int, Int)] = [
        ("bench/checksum.c", "tcp_checksum", 19, 19),
        ("bench/crc32.c", "crc32", 4, 4),
        ("bench/flow_lookup.c", "flow_lookup", 24, 24),
        ("bench/fnv1a.c", "fnv1a", 3, 3),
        ("bench/int_loop.c", "int_loop", 3, 3),
        ("bench/local_calls.c", "local_calls", 3, 3),
        ("bench/map_updates.c", "map_updates", 13, 13),
        ("bench/sort.c", "sort64", 257, 257),
        ("bench/tail_calls.c", "stage_ip", 11, 11),
        ("bench/tail_calls.c", "stage_ports", 9, 9),
        ("bench/tail_calls.c", "stage_verdict", 3, 3),
        ("bench/tail_calls.c", "pipeline", 8, 8),
        ("examples/atomics.c", "atomics", 24, 24),
        // A loop over the packet at a stride passed in a register, and
        // bpf_printk's unused fifth argument register (read by the helper's arity).
        ("examples/global_data.c", "global_data", 24, 25),
        ("examples/ringbuf_events.c", "ringbuf_events", 56, 68),
        ("examples/tail_call_pipeline.c", "parse", 10, 10),
        ("examples/tail_call_pipeline.c", "ipv4", 11, 11),
        ("examples/tail_call_pipeline.c", "finish", 7, 7),
        ("examples/tail_call_pipeline.c", "loop", 6, 6),
        ("examples/tail_call_pipeline.c", "loop_sub", 10, 10),
        ("examples/tail_call_pipeline.c", "pipeline", 5, 5),
        ("examples/xdp_adjust.c", "adjust", 57, 57),
        ("examples/xdp_proto_count.c", "count_protocols", 11, 11),
        ("examples/xdp_swap_mac.c", "swap_mac", 41, 41),
    ]

    @Test(arguments: Set(expected.map(\.0)).sorted())
    func provesWhatItShould(_ path: String) throws {
        let programs = try linkedPrograms(path)
        let wanted = Self.expected.filter { $0.0 == path }
        #expect(programs.count == wanted.count, "programs of \(path)")
        for (_, name, proven, total) in wanted {
            let linked = try #require(programs.first { $0.name == name }, "\(name) in \(path)")
            let report = linked.verification
            #expect(report.gaveUp == nil, "\(name): \(report.log)")
            #expect(report.accessCount == total, "\(name)")
            #expect(report.provenAccessCount == proven, "\(name): \(report.log)")
            #expect(report.proofs.terminates, "\(name): \(report.log)")
            #expect(report.proofs.maxInstructions > 0 && report.proofs.maxInstructions <= 1_000_000)
            if path.hasPrefix("bench/") {
                #expect(report.provesEverything, "\(name): \(report.log)")
            }
        }
    }

    @Test func proofsReachTheEngines() throws {
        let linked = try #require(try linkedPrograms("bench/flow_lookup.c").first)
        #expect(linked.engineConfiguration().proofs == linked.proofs)
        #expect(linked.proofs.applies(to: linked.program))
        #expect(linked.engineConfiguration(verified: false).proofs == nil)
    }
}
