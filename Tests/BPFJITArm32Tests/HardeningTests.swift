import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// arm32 JIT, whose auxiliary register is a slot (`Arm32RegisterMap`). A32
/// builds a constant that no rotated 8-bit immediate encodes with
/// `movw`/`movt`, 16 bits at a time, so the scan looks for each 32-bit
/// constant in the bytes and for each of its 16-bit halves in every
/// `movw`/`movt` immediate.
@Suite struct HardeningTests {
    /// The hardened arm32 row of the shared matrix: both division configurations.
    static let row = BackendRow(name: "arm32 hardened",
                                configurations: [("udiv hardened", HardenedEngine(arm32())),
                                                 ("calls hardened", HardenedEngine(arm32(divide: false)))],
                                architecture: .arm32, hardened: true)

    static let checks = HardeningChecks(row: row) { program, hardened in
        try Arm32JIT.listingImage(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened))
    }

    /// The imm16 (imm4:imm12) of every MOVW (cond 0011 0000) and MOVT (cond
    /// 0011 0100) instruction (Arm ARM A8.8.102, A8.8.106).
    static func moveImmediates(_ bytes: [UInt8]) -> Set<UInt32> {
        Set(HardeningChecks.words(bytes).filter { ($0 >> 20) & 0xff == 0x30 || ($0 >> 20) & 0xff == 0x34 }
            .map { (($0 >> 16) & 0xf) << 12 | ($0 & 0xfff) })
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        try Self.checks.sprayedConstantsAreInThePlainImageOnly(pieces: HardeningChecks.halves, immediates: Self.moveImmediates)
    }

    /// The spray program (its store through r1 keeps its bounds check, a
    /// host call with ax live across it) on both configurations.
    @Test func blindedSprayAgreesWithTheInterpreter() { Self.checks.blindedSprayAgreesWithTheInterpreter() }

    /// A fault after blinded instructions names the original instruction.
    @Test func errorsNameTheOriginalInstruction() { Self.checks.errorsNameTheOriginalInstruction() }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.row, category: name)
        print("generated suite on arm32 hardened, \(name): \(cases) cases × \(Self.row.configurations.count) configurations, \(failures.count) failures")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// `--engine jit --arch arm32 --harden` through the facade's runner, and
    /// each file's outcome against the interpreter's, error for error.
    @Test func conformanceCorpusHardened() throws {
        let (files, failures) = try BackendMatrix.conformanceCorpus(Self.row)
        print("conformance corpus on arm32 hardened: \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }

    /// The backend's random differential programs, blinded.
    @Test func randomProgramsHardenedMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(Self.row, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("arm32 hardened differential fuzz: \(count) programs, \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
