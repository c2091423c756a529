import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// arm64 JIT (the checks every backend shares: `HardeningChecks`). A
/// fixed-width backend builds constants 16 bits at a time (move-wide
/// instructions), so the scan looks for each 32-bit constant in the bytes
/// and for each of its 16-bit halves in every move-wide immediate.
@Suite struct HardeningTests {
    static let row = BackendRow(name: "arm64 hardened", configurations: [("hardened", HardenedEngine(arm64()))],
                                architecture: .arm64, hardened: true)

    static let checks = HardeningChecks(row: row) { program, hardened in
        try Arm64JIT.assemble(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened), at: 0x1000_0000)
    }

    /// The imm16 fields of the MOVZ/MOVN/MOVK instructions (Arm ARM C4.1.92, "Move wide (immediate)").
    static func moveWideImmediates(_ bytes: [UInt8]) -> Set<UInt32> {
        Set(HardeningChecks.words(bytes).filter { ($0 >> 23) & 0x3f == 0x25 }.map { ($0 >> 5) & 0xffff })
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        try Self.checks.sprayedConstantsAreInThePlainImageOnly(pieces: HardeningChecks.halves, immediates: Self.moveWideImmediates)
    }

    @Test func blindedSprayAgreesWithTheInterpreter() { Self.checks.blindedSprayAgreesWithTheInterpreter() }

    /// A fault after blinded instructions names the original instruction.
    @Test func errorsNameTheOriginalInstruction() { Self.checks.errorsNameTheOriginalInstruction() }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.row, category: name)
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }
}
