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
    @Test(arguments: BackendKit.checks(Rows.arm32))
    func kit(_ check: BackendCheck) throws {
        try check.expectPasses()
    }
}
