import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// RISC-V 64 JIT, whose auxiliary register is t0 (`RV64RegisterMap`).
/// RISC-V builds a 32-bit constant as `lui` (the upper 20 bits, rounded)
/// plus a 12-bit `addiw`, so the scan looks for each sprayed constant as a
/// word in the bytes and for its `lui` part in every `lui` of the image.
@Suite struct HardeningTests {
    static let engine = HardenedEngine(RV64JIT())

    static let checks = HardeningChecks(row: Rows.hardened) { program, hardened in
        try RV64JIT.listingImage(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened))
    }

    /// The 20-bit immediates of every `lui` (opcode 0x37) in the image.
    static func luiImmediates(_ bytes: [UInt8]) -> Set<UInt32> {
        Set(HardeningChecks.words(bytes).compactMap { $0 & 0x7f == 0x37 ? $0 >> 12 : nil })
    }

    /// Constants 11, 12, 22 and 23 are halves of 64-bit loads, which the
    /// plain code builds from shifted parts of the whole value instead.
    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        try Self.checks.sprayedConstantsAreInThePlainImageOnly(pieces: { [($0 &+ 0x800) >> 12] }, immediates: Self.luiImmediates,
                                                               builtOtherwise: [11, 12, 22, 23])
    }

    /// The spray program: its store through r1 keeps its bounds check, a
    /// host call with ax (t0) live across it; plain and compressed.
    @Test func blindedSprayAgreesWithTheInterpreter() { Self.checks.blindedSprayAgreesWithTheInterpreter() }

    /// A blinded load or store whose bounds check fails names the original instruction.
    @Test func errorsNameTheOriginalInstruction() { Self.checks.errorsNameTheOriginalInstruction() }

    /// The categories whose immediates blinding rewrites in the most ways
    /// (32-bit ALU and jumps, 64-bit constants, stores of immediates); the
    /// whole suite hardened passes too (19,808 cases), but costs the
    /// emulated target's time budget twice.
    @Test(arguments: ["alu32", "jmp32", "ld_imm64", "memory"])
    func generatedSuiteHardened(_ name: String) {
        let row = BackendRow(name: "riscv64 hardened", configurations: [("hardened", Self.engine)], architecture: .riscv64, hardened: true)
        let (cases, failures) = BackendMatrix.generatedSuite(row, category: name)
        print("generated suite on riscv64 hardened, \(name): \(cases - failures.count)/\(cases) passed")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// The random differential programs, blinded, plain and compressed.
    @Test func randomProgramsHardenedMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(Rows.hardened, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("riscv64 hardened differential fuzz: \(count) programs × \(Rows.hardened.configurations.count), \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
