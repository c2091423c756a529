import BPFBackendTestKit
import BPFEmulator
import BPFJITArm32
import BPFRuntime
import Testing

/// The arm32 row of the shared backend test kit: division by UDIV/SDIV near
/// the helpers, and through runtime calls far from them (`movw/movt + blx`).
enum Rows {
    static let arm32 = BackendRow(
        name: "arm32",
        configurations: [("udiv", BPFJITArm32Tests.arm32()),
                         ("calls, far from the helpers", BPFJITArm32Tests.arm32(divide: false, placement: .farFromHelpers))],
        architecture: .arm32,
        imageCounts: { prepared in
            (prepared as? Arm32EmulatedProgram).map { ($0.machine.liveImageCount, $0.machine.mappedImageCounts.max() ?? 0) }
        })
}

/// Every check of the kit (`BackendKit.checks`) on arm32 under the emulator.
@Suite struct BackendKitTests {
    /// Checks that find a known defect of the backend, and what it is. A
    /// known issue that stops showing fails the test, so the entry goes when
    /// the backend is fixed.
    static let knownIssues: [String: String] = [
        "arm32: tail-call corpus, an error in a target called from a subprogram":
            "hardened, an out-of-bounds load in a tail-call target reached from a subprogram is reported at pc 1 instead of pc 2",
    ]

    @Test(arguments: BackendKit.checks(Rows.arm32))
    func kit(_ check: BackendCheck) throws {
        let report = try check.run()
        print(report.summary)
        if let known = Self.knownIssues[check.description] {
            withKnownIssue(Comment(rawValue: known)) {
                #expect(report.failures.isEmpty, "\(check): \(report.failures.joined(separator: "\n"))")
            }
            return
        }
        #expect(report.failures.isEmpty, "\(check): \(report.failures.count) failures:\n\(report.failures.prefix(10).joined(separator: "\n"))")
    }
}
