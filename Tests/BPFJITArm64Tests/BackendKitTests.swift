import BPFBackendTestKit
import BPFEmulator
import BPFJITArm64
import BPFRuntime
import Testing

/// The arm64 row of the shared backend test kit: LSE atomics near the
/// helpers (the facade's `--arch arm64` engine), and exclusive loops far
/// from them; the second runs the generated suite's atomic categories only.
enum Rows {
    static let arm64 = BackendRow(
        name: "arm64",
        configurations: [("lse", BPFJITArm64Tests.arm64()),
                         ("exclusive, far from the helpers", BPFJITArm64Tests.arm64(.exclusive, placement: .farFromHelpers))],
        architecture: .arm64,
        imageCounts: { prepared in
            (prepared as? Arm64EmulatedProgram).map { ($0.machine.liveImageCount, $0.machine.mappedImageCounts.max() ?? 0) }
        },
        slotChanges: 20_000,
        proofSample: 8,
        suiteRuns: { category, configuration in configuration == "lse" || category.contains("atomic") })
}

/// Every check of the kit (`BackendKit.checks`) on arm64 under the emulator.
@Suite struct BackendKitTests {
    @Test(arguments: BackendKit.checks(Rows.arm64))
    func kit(_ check: BackendCheck) throws {
        try check.expectPasses()
    }
}
