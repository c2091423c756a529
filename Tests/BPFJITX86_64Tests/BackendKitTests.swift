import BPFBackendTestKit
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

/// The x86-64 row of the shared backend test kit: with BMI2's three-operand
/// shifts where the CPU has them, and with the `cl` forms everywhere; the
/// verified XDP differential fuzz runs 600 programs natively.
enum Rows {
    static let x86_64 = BackendRow(
        name: "x86_64",
        configurations: (JITOptions.hostHasBMI2 ? [("bmi2 shifts", X86_64JIT(options: JITOptions(useBMI2: true)))] : [])
            + [("cl shifts", X86_64JIT(options: JITOptions(useBMI2: false)))],
        architecture: .x86_64,
        verifiedFuzzPrograms: 600)
}

/// Every check of the kit (`BackendKit.checks`) on x86-64, natively.
@Suite(.enabled(if: JITArchitecture.host == .x86_64, "the x86-64 JIT runs natively only"))
struct BackendKitTests {
    @Test(arguments: BackendKit.checks(Rows.x86_64))
    func kit(_ check: BackendCheck) throws {
        try check.expectPasses()
    }
}
