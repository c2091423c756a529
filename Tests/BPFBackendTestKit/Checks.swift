import BPFConformance
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// What one check of the kit came to: a line for the log and every
/// difference it found (empty when the backend passed).
public struct BackendCheckReport: Sendable {
    public var summary: String
    public var failures: [String]

    public init(summary: String, failures: [String]) {
        self.summary = summary
        self.failures = failures
    }
}

/// One check of the shared matrix on one backend row: a name (what the test
/// log shows as the argument) and the work.
public struct BackendCheck: Sendable, CustomStringConvertible {
    public let description: String
    /// A defect of the backend this check is known to find (`BackendRow.knownIssues`).
    public var knownIssue: String?
    let body: @Sendable () throws -> BackendCheckReport

    public init(_ description: String, _ body: @escaping @Sendable () throws -> BackendCheckReport) {
        self.description = description
        self.body = body
    }

    /// Runs the check; its summary ends with the time it took.
    public func run() throws -> BackendCheckReport {
        let start = Date()
        var report = try body()
        report.summary += String(format: " (%.1f s)", Date().timeIntervalSince(start))
        return report
    }

    /// Runs the check in a test (a backend's one parametrized test of
    /// `BackendKit.checks(row)`): prints its summary and expects no failure;
    /// a check with a `knownIssue` records its failures as that known issue,
    /// and fails once they stop showing.
    public func expectPasses(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let report = try run()
        print(report.summary)
        let failures = Comment(rawValue: "\(self): \(report.failures.count) failures:\n\(report.failures.prefix(10).joined(separator: "\n"))")
        if let knownIssue {
            withKnownIssue(Comment(rawValue: knownIssue), sourceLocation: sourceLocation) {
                #expect(report.failures.isEmpty, failures, sourceLocation: sourceLocation)
            }
        } else {
            #expect(report.failures.isEmpty, failures, sourceLocation: sourceLocation)
        }
    }
}

/// Every check the kit has, for a row. A backend's test target runs them
/// all from one parametrized test:
///
///     @Test(arguments: BackendKit.checks(row)) func kit(_ check: BackendCheck) throws { ... }
///
/// Each check compares the backend with an independent truth: the value the
/// RFC gives (generated suite), the kernel's semantics (tail-call corpus),
/// or the interpreter of the row's byte order, error for error.
public enum BackendKit {
    public static func checks(_ row: BackendRow) -> [BackendCheck] {
        var checks: [BackendCheck] = []
        for category in GeneratedSuite.categories().map(\.name) {
            checks.append(BackendCheck("\(row.name): generated suite, \(category)") { generatedSuite(row, category: category) })
        }
        checks.append(BackendCheck("\(row.name): conformance corpus") {
            let (files, failures) = try BackendMatrix.conformanceCorpus(row)
            return BackendCheckReport(summary: "conformance corpus on \(row.name): \(files - failures.count)/\(files) passed",
                                      failures: failures + (files > 100 ? [] : ["only \(files) corpus files found"]))
        })
        for attack in HelperStackAttacks.all {
            checks.append(BackendCheck("\(row.name): helper stack bounds, \(attack)") { try HelperStackBounds.check(row, attack) })
        }
        checks.append(BackendCheck("\(row.name): helper arguments inside the stack") { try HelperStackBounds.insideTheStack(row) })
        for test in TailCallCases.all {
            checks.append(BackendCheck("\(row.name): tail-call corpus, \(test.name)") { try TailCallKit.corpus(row, test) })
        }
        for test in TailCallContextCases.all {
            checks.append(BackendCheck("\(row.name): tail-call context, \(test.name)") { try TailCallKit.context(row, test) })
        }
        checks.append(BackendCheck("\(row.name): run lifetime, \(row.slotChanges) slot changes") { try RunLifetimeKit.slotChanges(row) })
        for verify in [true, false] {
            checks.append(BackendCheck("\(row.name): run lifetime, read-only maps\(verify ? "" : " (unverified)")") {
                try RunLifetimeKit.readOnlyMaps(row, verify: verify)
            })
        }
        checks.append(BackendCheck("\(row.name): run lifetime, stale map-value pointer") { try RunLifetimeKit.stalePointer(row) })
        checks.append(BackendCheck("\(row.name): run lifetime, ring reservations left open") { try RunLifetimeKit.reservations(row) })
        checks.append(BackendCheck("\(row.name): corpus with proofs, every \(row.proofSample)th suite case") {
            try ProofKit.corpus(row, sample: row.proofSample)
        })
        checks.append(BackendCheck("\(row.name): register-pair differential fuzz") { RegisterPairFuzz.check(row, seeds: 1...300) })
        if row.verifiedFuzzPrograms > 0 {
            checks.append(BackendCheck("\(row.name): verified XDP differential fuzz, \(row.verifiedFuzzPrograms) programs") {
                try VerifiedFuzz.check(row)
            })
        }
        if (try? CCompiler()) != nil {
            for example in ExampleKit.examples {
                checks.append(BackendCheck("\(row.name): C example \(example.name)") { try ExampleKit.check(row, example) })
            }
            checks.append(BackendCheck("\(row.name): tail-call pipeline against its model") { try ExampleKit.pipeline(row) })
            for program in ObjectKit.callbackPrograms {
                checks.append(BackendCheck("\(row.name): callbacks, \(program)") { try ObjectKit.callbacks(row, program: program) })
            }
            checks.append(BackendCheck("\(row.name): kernel functions from C") { try ObjectKit.kernelFunctionCalls(row) })
            checks.append(BackendCheck("\(row.name): map in map, counts through inner maps") { try ObjectKit.mapInMapCounts(row) })
            checks.append(BackendCheck("\(row.name): map in map, reading an inner map's handle") { try ObjectKit.innerMapHandleRead(row) })
        }
        checks.append(BackendCheck("\(row.name): example fnv1a.s") { try ExampleKit.fnv1a(row) })
        for index in checks.indices {
            checks[index].knownIssue = row.knownIssues.first { checks[index].description.hasSuffix(": " + $0.key) }?.value
        }
        // `BACKEND_KIT_ONLY=tail-call` runs the checks whose name contains it
        // (`callbacks|map in map`: any of them).
        if let only = ProcessInfo.processInfo.environment["BACKEND_KIT_ONLY"], !only.isEmpty {
            let parts = only.split(separator: "|").map(String.init)
            return checks.filter { check in parts.contains { check.description.contains($0) } }
        }
        return checks
    }

    /// The generated suite's category on every configuration: a
    /// little-endian row against the expected value and the interpreter; a
    /// big-endian one against the big-endian interpreter (the expected values
    /// assume little-endian memory), and in the categories whose results do
    /// not depend on the byte order, against the expected value too.
    static func generatedSuite(_ row: BackendRow, category: String) -> BackendCheckReport {
        let (cases, failures) = BackendMatrix.generatedSuite(row, category: category)
        var all = failures
        if cases == 0 { all.append("no cases in \(category)") }
        if row.byteOrder == .big, ["alu64", "jmp", "jmp32", "ld_imm64"].contains(category) {
            for testCase in GeneratedSuite.categories().first(where: { $0.name == category })?.cases ?? [] {
                let got = BackendMatrix.outcome(testCase.program, memory: testCase.memory, on: row.reference, limit: 10_000)
                if got != .value(testCase.expected) {
                    all.append("\(testCase.name): the big-endian interpreter gives \(got), expected 0x\(String(testCase.expected, radix: 16)) in an order-independent category")
                }
            }
        }
        let ran = row.configurations.filter { row.suiteRuns(category, $0.label) }.count
        return BackendCheckReport(summary: "generated suite on \(row.name), \(category): \(cases) cases × \(ran) configurations, \(all.count) failures",
                                  failures: all)
    }
}
