import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// MIPS32 JIT in both byte orders, whose auxiliary register is t8:t9
/// (`MIPS32RegisterMap`). MIPS builds a 32-bit constant 16 bits at a time
/// (`lui`, then `ori`; `addiu`, `andi`, `xori` take 16-bit immediates too),
/// so the scan looks for each 32-bit constant in the bytes and for each of
/// its 16-bit halves in every such immediate.
@Suite struct HardeningTests {
    static func row(bigEndian: Bool) -> BackendRow {
        BackendRow(name: bigEndian ? "mips32be hardened" : "mips32le hardened",
                   configurations: [("hardened", HardenedEngine(MIPS32JIT(bigEndian: bigEndian)))],
                   architecture: bigEndian ? .mips32be : .mips32le, hardened: true, byteOrder: bigEndian ? .big : .little)
    }

    static func checks(bigEndian: Bool) -> HardeningChecks {
        HardeningChecks(row: row(bigEndian: bigEndian)) { program, hardened in
            try MIPS32JIT.listingImage(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened),
                                       options: MIPS32Options(bigEndian: bigEndian))
        }
    }

    /// The 16-bit immediates of every ADDIU (9), ANDI (12), ORI (13), XORI
    /// (14) and LUI (15) instruction (MIPS32 Vol. II, I-type).
    static func immediates(_ bytes: [UInt8], bigEndian: Bool) -> Set<UInt32> {
        Set(HardeningChecks.words(bytes, bigEndian: bigEndian).filter { [9, 12, 13, 14, 15].contains($0 >> 26) }.map { $0 & 0xffff })
    }

    @Test(arguments: [false, true]) func sprayedConstantsAreInThePlainImageOnly(bigEndian: Bool) throws {
        try Self.checks(bigEndian: bigEndian).sprayedConstantsAreInThePlainImageOnly(
            pieces: HardeningChecks.halves, immediates: { Self.immediates($0, bigEndian: bigEndian) }, bothByteOrders: true)
    }

    /// The spray program: its store through r1 keeps its bounds check, a
    /// host call with ax (t8:t9) live across it.
    @Test(arguments: [false, true]) func blindedSprayAgreesWithTheInterpreter(bigEndian: Bool) {
        Self.checks(bigEndian: bigEndian).blindedSprayAgreesWithTheInterpreter()
    }

    /// A blinded load or store whose bounds check fails names the original instruction.
    @Test(arguments: [false, true]) func errorsNameTheOriginalInstruction(bigEndian: Bool) {
        Self.checks(bigEndian: bigEndian).errorsNameTheOriginalInstruction()
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name), [false, true])
    func generatedSuiteHardened(_ name: String, bigEndian: Bool) {
        let row = Self.row(bigEndian: bigEndian)
        let (cases, failures) = BackendMatrix.generatedSuite(row, category: name)
        print("generated suite on \(row.name), \(name): \(cases - failures.count)/\(cases) passed")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// `--engine jit --arch mips32le|mips32be --harden` through the facade's
    /// runner, and each file's outcome against the interpreter of the same
    /// byte order, error for error.
    @Test(arguments: [false, true]) func conformanceCorpusHardened(bigEndian: Bool) throws {
        let row = Self.row(bigEndian: bigEndian)
        let (files, failures) = try BackendMatrix.conformanceCorpus(row)
        print("conformance corpus on \(row.name): \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }

    /// The backend's random differential programs, blinded, in both byte orders.
    @Test(arguments: [false, true]) func randomProgramsHardenedMatchTheInterpreter(bigEndian: Bool) {
        let row = Self.row(bigEndian: bigEndian)
        let (count, failures) = BackendMatrix.randomDifferential(row, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("\(row.name) differential fuzz: \(count) programs, \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
