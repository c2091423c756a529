import BPFConformance
import BPFInterpreter
import BPFISA
import BPFKit
import BPFMatrix
import BPFRuntime
import BPFTestSuite
import Foundation

/// One backend as the shared test matrix sees it: a name, the configurations
/// of its engine every case runs on (division by instruction and by call, say),
/// and how the facade names it (`--engine jit --arch ...`).
///
/// Adding a backend's tests means one row and one test file calling
/// `BackendMatrix`; each result is compared with the interpreter's (and, for
/// the generated suite, with the value computed from the RFC).
public struct BackendRow: Sendable {
    public let name: String
    public let configurations: [(label: String, engine: any ExecutionEngine)]
    public let architecture: Architecture?
    /// The facade's runner compiles hardened too (`--harden`); the
    /// configurations say for themselves (`HardenedEngine`).
    public let hardened: Bool
    /// The byte order of the interpreter every result is compared with. A
    /// big-endian row is judged against the big-endian interpreter only: the
    /// generated suite's expected values assume little-endian memory.
    public let byteOrder: ByteOrder

    /// The live and mapped image counts of the emulated machine a prepared
    /// program runs on (nil for a native engine): the run-lifetime checks
    /// watch them stay flat while tail-call slots change.
    public let imageCounts: @Sendable (any PreparedProgram) -> (live: Int, mapped: Int)?
    /// How many times the run-lifetime check changes a tail-call slot.
    public let slotChanges: Int
    /// How many verified XDP programs the differential fuzz runs (`VerifiedFuzz`).
    public let verifiedFuzzPrograms: Int
    /// Whether the backend compiles hardened code (constant blinding): the
    /// tail-call corpus then runs hardened too.
    public let supportsHardening: Bool
    /// Whether the generated suite's category runs on the configuration
    /// (by label): a configuration that differs only in some instructions'
    /// lowering (atomics by exclusive loops, say) need not run the rest.
    /// Checks (by name after the row's, `tail-call corpus, …`) that find a
    /// known defect of the backend, and the defect: the test records them as
    /// known issues, and fails when one stops showing.
    public let knownIssues: [String: String]
    /// Every how many generated-suite cases the proofs check takes.
    public let proofSample: Int
    public let suiteRuns: @Sendable (_ category: String, _ configuration: String) -> Bool

    public init(name: String, configurations: [(label: String, engine: any ExecutionEngine)], architecture: Architecture?,
                hardened: Bool = false, byteOrder: ByteOrder = .little,
                imageCounts: @escaping @Sendable (any PreparedProgram) -> (live: Int, mapped: Int)? = { _ in nil },
                slotChanges: Int = 2_000, verifiedFuzzPrograms: Int = 0, supportsHardening: Bool = true, proofSample: Int = 16,
                knownIssues: [String: String] = [:],
                suiteRuns: @escaping @Sendable (_ category: String, _ configuration: String) -> Bool = { _, _ in true }) {
        self.name = name
        self.configurations = configurations
        self.architecture = architecture
        self.hardened = hardened
        self.byteOrder = byteOrder
        self.imageCounts = imageCounts
        self.slotChanges = slotChanges
        self.verifiedFuzzPrograms = verifiedFuzzPrograms
        self.supportsHardening = supportsHardening
        self.suiteRuns = suiteRuns
        self.proofSample = proofSample
        self.knownIssues = knownIssues
    }

    /// The interpreter the row is compared with.
    public var reference: Interpreter { Interpreter(byteOrder: byteOrder) }
}

/// An engine whose every preparation is hardened (constant blinding,
/// `EngineConfiguration.hardened`): a row's configuration for blinded code.
public struct HardenedEngine: ExecutionEngine {
    public let base: any ExecutionEngine

    public init(_ base: any ExecutionEngine) { self.base = base }

    public var name: String { base.name }
    public var tailCallEngine: TailCallEngine? { base.tailCallEngine }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        var configuration = configuration
        configuration.hardened = true
        return try base.prepare(program, configuration: configuration)
    }
}

/// What a run came to, comparable across engines (`BPFMatrix`'s, which
/// `bpfkit conformance --matrix` counts with too).
public typealias MatrixOutcome = BPFMatrix.MatrixOutcome
/// One program array and `mem` programs on an engine (`BPFMatrix`'s).
public typealias TailCallFixture = BPFMatrix.TailCallFixture

/// The matrix every backend runs: each function returns the differences it
/// found (empty when the backend agrees everywhere) and how many cases ran.
public enum BackendMatrix {
    /// The repository's `Tests/Fixtures` directory.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// One run over `bytes` (r1 = their address, r2 = their length).
    public static func outcome(_ program: Program, memory bytes: [UInt8], on engine: any ExecutionEngine,
                               helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000) -> MatrixOutcome {
        MatrixOutcome.of(program, memory: bytes, on: engine, helpers: helpers, limit: limit)
    }

    /// The generated suite's category `name` (`GeneratedSuite.categories()`):
    /// every case on every configuration, against the interpreter and the expected value.
    public static func generatedSuite(_ row: BackendRow, category name: String) -> (cases: Int, failures: [String]) {
        let cases = GeneratedSuite.categories().first { $0.name == name }?.cases ?? []
        var failures: [String] = []
        for (label, engine) in row.configurations where row.suiteRuns(name, label) {
            for testCase in cases {
                let got = outcome(testCase.program, memory: testCase.memory, on: engine, limit: 10_000)
                let reference = outcome(testCase.program, memory: testCase.memory, on: row.reference, limit: 10_000)
                if got != reference || (row.byteOrder == .little && got != .value(testCase.expected)) {
                    failures.append("\(testCase.name) (\(row.name) \(label)): \(got), interpreter \(reference), expected 0x\(String(testCase.expected, radix: 16))")
                }
            }
        }
        return (cases.count, failures)
    }

    /// The conformance corpus (`Tests/Fixtures/conformance/tests`) through the
    /// facade's runner for the row's architecture, and each file on every
    /// configuration against the interpreter, error for error.
    public static func conformanceCorpus(_ row: BackendRow) throws -> (files: Int, failures: [String]) {
        let directory = fixtures.appendingPathComponent("conformance/tests").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".data") }.sorted()
        let runner = ConformanceRunner(engine: .jit, architecture: row.architecture, hardened: row.hardened)
        var failures: [String] = []
        for name in files {
            let path = directory + "/" + name
            let verdict = runner.run(path: path)
            guard verdict == .passed else {
                failures.append("\(name): \(verdict)")
                continue
            }
            let file = try ConformanceFile(path: path)
            let program = try file.program()
            for (label, engine) in row.configurations {
                let got = outcome(program, memory: file.memory, on: engine, helpers: ConformanceRunner.helpers)
                let reference = outcome(program, memory: file.memory, on: row.reference, helpers: ConformanceRunner.helpers)
                if got != reference { failures.append("\(name) (\(label)): \(got), interpreter \(reference)") }
            }
        }
        return (files.count, failures)
    }

    /// Random programs (`program(seed)`, nil when a seed gives none) on every
    /// configuration against the interpreter, over `memory`.
    public static func randomDifferential(_ row: BackendRow, seeds: ClosedRange<UInt64>, memory: [UInt8] = [],
                                          program: (UInt64) -> Program?) -> (programs: Int, failures: [String]) {
        var failures: [String] = [], count = 0
        for seed in seeds {
            guard let program = program(seed), (try? program.validate()) != nil else { continue }
            count += 1
            let reference = outcome(program, memory: memory, on: row.reference)
            for (label, engine) in row.configurations {
                let got = outcome(program, memory: memory, on: engine)
                if got != reference { failures.append("seed \(seed) (\(label)): \(got), interpreter \(reference)") }
            }
        }
        return (count, failures)
    }
}
