import Foundation
import BPFISA
import BPFRuntime

/// The conformance corpus on every engine BPFKit has built: the interpreter,
/// and each JIT backend that can run on this host (natively or under the
/// emulator), plain and, where the backend supports it, hardened. One
/// `Configuration` per line of `bpfkit conformance --matrix`.
public enum ConformanceMatrix {
    /// One engine in one mode.
    public struct Configuration: Sendable, Hashable, CustomStringConvertible {
        public var engine: EngineKind
        public var architecture: Architecture?
        public var hardened: Bool

        public init(engine: EngineKind, architecture: Architecture? = nil, hardened: Bool = false) {
            self.engine = engine
            self.architecture = architecture
            self.hardened = hardened
        }

        /// `interpreter`, `mips32be`, `x86_64 hardened`.
        public var description: String {
            (architecture.map { "\($0)" } ?? engine.rawValue) + (hardened ? " hardened" : "")
        }

        /// The runner for this configuration. Each JIT runs in its target's
        /// byte order; a big-endian one is judged against the big-endian
        /// interpreter (`ConformanceRunner.byteOrder`).
        public var runner: ConformanceRunner {
            ConformanceRunner(engine: engine, architecture: architecture, hardened: hardened)
        }
    }

    /// A configuration's tally, as `bpfkit conformance` ends it.
    public struct Tally: Sendable {
        public var configuration: Configuration
        public var passed = 0
        public var failed = 0
        public var skipped = 0
        /// Files whose program the engine prepared (for a JIT: compiled).
        public var prepared = 0
        public var files = 0
        /// `(file, reason)` for each failure.
        public var failures: [(path: String, reason: String)] = []

        /// `x86_64 hardened: 313 passed, 0 failed [313/313 JIT'ed]`.
        public var line: String {
            let jited = configuration.engine == .jit ? " [\(prepared)/\(files) JIT'ed]" : ""
            return "\(configuration): \(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : "") + jited
        }

        public var succeeded: Bool { failed == 0 && files > 0 }
    }

    /// Every configuration to run, and the JIT modes left out with the
    /// backend's reason (`arm32 hardened`: the backend refuses hardened code).
    public static func configurations() -> (run: [Configuration], unsupported: [(Configuration, String)]) {
        var run = [Configuration(engine: .interpreter)]
        var unsupported: [(Configuration, String)] = []
        for architecture in Architecture.allCases {
            guard (try? EngineCatalog.engine(.jit, architecture: architecture)) != nil else { continue }
            run.append(Configuration(engine: .jit, architecture: architecture))
            let hardened = Configuration(engine: .jit, architecture: architecture, hardened: true)
            if let refusal = EngineCatalog.hardeningRefusal(architecture) {
                unsupported.append((hardened, refusal))
            } else {
                run.append(hardened)
            }
        }
        return (run, unsupported)
    }

    /// Runs `files` on each configuration, `jobs` configurations at a time,
    /// and returns the tallies in the order of `configurations`.
    public static func run(files: [String], configurations: [Configuration], jobs: Int) -> [Tally] {
        parallel(configurations, jobs: jobs) { tally(files: files, configuration: $0) }
    }

    /// `work` on each item, `jobs` at a time; the results in the order of
    /// `items`. The matrix's columns (the corpus here, the generated suite
    /// and the tail-call corpus in BPFMatrix) all run through it.
    public static func parallel<Item: Sendable, Result: Sendable>(_ items: [Item], jobs: Int,
                                                                  _ work: @escaping @Sendable (Item) -> Result) -> [Result] {
        let results = Results<Result>(count: items.count)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = max(1, jobs)
        for (index, item) in items.enumerated() {
            queue.addOperation { results.set(index, work(item)) }
        }
        queue.waitUntilAllOperationsAreFinished()
        return results.all
    }

    /// Runs `files` on one configuration.
    public static func tally(files: [String], configuration: Configuration) -> Tally {
        let runner = configuration.runner
        var tally = Tally(configuration: configuration, files: files.count)
        for file in files {
            let (outcome, prepared) = runner.runReporting(path: file)
            if prepared { tally.prepared += 1 }
            switch outcome {
            case .passed: tally.passed += 1
            case .failed(let reason):
                tally.failed += 1
                tally.failures.append((file, reason))
            case .skipped: tally.skipped += 1
            }
        }
        return tally
    }

    private final class Results<Result: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Result?]
        init(count: Int) { results = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ result: Result) { lock.withLock { results[index] = result } }
        var all: [Result] { lock.withLock { results.compactMap { $0 } } }
    }
}

extension EngineCatalog {
    /// Whether the JIT for `architecture` compiles hardened code (constant
    /// blinding): nil when it does, else the backend's refusal. The backend
    /// is asked by compiling a small program with constants hardened, so a
    /// backend that gains hardening is counted without a list to update.
    public static func hardeningRefusal(_ architecture: Architecture) -> String? {
        let program = Program([
            .alu(.w64, .mov, dst: .r0, .immediate(0x1234_5678)),
            .alu(.w64, .add, dst: .r0, .immediate(7)),
            .exit,
        ], name: "hardening probe")
        do {
            let engine = try self.engine(.jit, architecture: architecture)
            var configuration = EngineConfiguration()
            configuration.hardened = true
            let prepared = try engine.prepare(program, configuration: configuration)
            let memory = MemoryRegions([])
            guard try prepared.run(RunInput(r1: 0, regions: memory)) == 0x1234_567f else {
                return "the hardened probe program returned a wrong value"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
