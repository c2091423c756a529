import BPFCommandTestSupport
import Foundation
import Testing

/// `bpfkit bench` in smoke mode: every engine agrees, the report files are
/// written and rewritten in place. Times are never judged. The kernel is left
/// out here (scripts/test runs the smoke mode with it where bpf() is permitted).
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h"),
                "bench tests need libbpf's headers (<bpf/bpf_helpers.h>) for the BPF build"))
struct BenchCommandTests {
    @Test func smokeRunWritesTheReport() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-bench-test-\(getpid())")
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        let document = output.appendingPathComponent("PERFORMANCE.md")
        try "# Kept\n\nprose before\n\n<!-- bench:begin -->\nold results\n<!-- bench:end -->\n\nprose after\n"
            .write(to: document, atomically: true, encoding: .utf8)

        let result = try bpfkit(["bench", "--quick", "--no-kernel", "--only", "int_loop", "map_updates", "--unchecked",
                                 "--output", output.path])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("int_loop") && result.stdout.contains("map_updates"))
        #expect(!result.stdout.contains("fnv1a"), "--only keeps the other programs out")
        #expect(result.stdout.contains("native"), "the native build is measured")
        #expect(!result.stdout.contains("FAILED") && !result.stdout.contains("MISMATCH"), "\(result.stdout)")
        // A quick run's times are printed against the goals but never judged.
        #expect(result.stdout.contains("(goal ≤ 1.50, not judged: quick run)"), "\(result.stdout)")
        #expect(!result.stdout.contains(": met") && !result.stdout.contains(": not met"), "\(result.stdout)")

        let markdown = try String(contentsOf: document, encoding: .utf8)
        #expect(markdown.hasPrefix("# Kept\n\nprose before\n"), "text before the markers is kept")
        #expect(markdown.hasSuffix("<!-- bench:end -->\n\nprose after\n"), "text after the markers is kept")
        #expect(!markdown.contains("old results"))
        #expect(markdown.contains("| int_loop |") && markdown.contains("performance.svg"))

        let svg = try String(contentsOf: output.appendingPathComponent("performance.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n") && svg.contains("map_updates"))

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("performance.json"))) as? [String: Any]
        let rows = json?["rows"] as? [[String: Any]] ?? []
        #expect(rows.map { $0["name"] as? String } == ["int_loop", "map_updates"])
        for row in rows {
            let outcomes = row["outcomes"] as? [String: [String: Any]] ?? [:]
            let results = Set(outcomes.values.compactMap { $0["result"] as? Int })
            #expect(results.count == 1, "every engine returns the same value: \(outcomes)")
            #expect(outcomes["native"]?["status"] as? String == "measured")
            #expect(outcomes["kernel"]?["status"] as? String == "unavailable")
            #if arch(x86_64)
            #expect(outcomes["jit-x86_64"]?["status"] as? String == "measured")
            #expect(outcomes["jit-x86_64-unchecked"]?["status"] as? String == "measured")
            #endif
        }
    }

    @Test func badArguments() throws {
        let unknown = try bpfkit(["bench", "--quick", "--only", "warp_drive"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown program warp_drive"), "\(unknown.stderr)")
        let repeats = try bpfkit(["bench", "--repeat", "0"])
        #expect(repeats.status == 1 && repeats.stderr.contains("--repeat must be at least 1"), "\(repeats.stderr)")
        let suite = try bpfkit(["bench", "--quick", "--suite", "/nonexistent"])
        #expect(suite.status == 1 && suite.stderr.contains("not the benchmark suite"), "\(suite.stderr)")
    }
}
