import BPFCommandTestSupport
import Foundation
import Testing

/// The conformance corpus through the command line.
@Suite struct CorpusCommandTests {
    @Test func everyCorpusTestPassesOnTheInterpreter() throws {
        let result = try bpfkit(["conformance", Paths.corpus.appendingPathComponent("tests").path])
        #expect(result.stdout.hasSuffix("313 passed, 0 failed\n"), "\(result.stdout)")
        #expect(result.status == 0)
    }

    @Test(.enabled(if: isX86_64, "the native JIT exists for x86-64 hosts"))
    func everyCorpusTestPassesOnTheJIT() throws {
        let result = try bpfkit(["conformance", Paths.corpus.appendingPathComponent("tests").path, "--engine", "jit"])
        #expect(result.stdout.hasSuffix("313 passed, 0 failed [313/313 JIT'ed]\n"), "\(result.stdout)")
        #expect(result.status == 0)
    }

    /// These four are well-formed but do not do what they claim; the runner must say so.
    @Test func fourNegativeFilesReportedAsFailed() throws {
        let names = ["empty", "empty_instructions", "error", "incorrect_return_value_high_bits"]
        let paths = names.map { Paths.corpus.appendingPathComponent("negative/\($0).data").path }
        let result = try bpfkit(["conformance"] + paths)
        #expect(result.stdout.hasSuffix("0 passed, 4 failed\n"), "\(result.stdout)")
        for name in names { #expect(result.stdout.contains("FAIL") && result.stdout.contains(name)) }
        #expect(result.status != 0)
    }

    static let negativeRuns: [String] = {
        let dir = Paths.corpus.appendingPathComponent("negative")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasPrefix("unused-") || $0.hasPrefix("invalid_") }.sorted()
    }()

    /// Reserved fields set (`unused-*`) and malformed assembly (`invalid_*`) are
    /// rejected by `bpfkit run` with an error naming the instruction or line.
    @Test(arguments: negativeRuns)
    func negativeInputRejectedByRun(_ name: String) throws {
        let result = try bpfkit(["run", Paths.corpus.appendingPathComponent("negative/\(name)").path])
        #expect(result.status != 0, "\(name) was accepted: \(result.stdout)")
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)")
        if name.hasPrefix("unused-") {
            #expect(result.stderr.contains("instruction 0"), "\(result.stderr)")
        } else {
            #expect(result.stderr.contains("\(name): line "), "\(result.stderr)")
        }
        #expect(result.stdout.isEmpty)
    }

    @Test func negativeCountIsTheCorpusCount() {
        #expect(Self.negativeRuns.count == 56)
    }
}
