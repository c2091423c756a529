import BPFBackendTestKit
import BPFISA
import BPFJITRISCV64
import BPFKit
import BPFRuntime
import BPFTestSuite
import Testing

/// The generated suite and the conformance corpus on the RISC-V 64 JIT under
/// the emulator, through the shared test kit: every result against the
/// interpreter's (and the generated suite's against the RFC-computed value).
/// Two configurations: plain code next to the helpers (direct `jal` calls),
/// and compressed code 4 GiB and more from them (calls built in t6); the
/// generated suite (about 20,000 cases) runs on the first only, to keep the
/// emulated target's time small: compression changes encodings (checked
/// form by form against llvm-mc) and layout, which the corpus, the random
/// programs and the tail-call corpus exercise on both.
@Suite struct ParityTests {
    static let plain = BackendRow(name: "riscv64", configurations: [("plain", RV64JIT())], architecture: .riscv64)
    static let row = BackendRow(name: "riscv64",
                                configurations: [("plain", RV64JIT()),
                                                 ("rvc far", RV64JIT(options: RV64Options(compressed: true), placement: .farFromHelpers))],
                                architecture: .riscv64)
    static let hardened = BackendRow(name: "riscv64 hardened",
                                     configurations: [("hardened", HardenedEngine(RV64JIT())),
                                                      ("hardened rvc", HardenedEngine(RV64JIT(options: RV64Options(compressed: true))))],
                                     architecture: .riscv64, hardened: true)

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuite(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.plain, category: name)
        print("generated suite on riscv64, \(name): \(cases) cases, \(failures.count) failures")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// The corpus through the facade's runner (`--engine jit --arch riscv64`),
    /// and each file's outcome on every configuration against the interpreter's.
    @Test(arguments: [false, true]) func conformanceCorpus(hardened: Bool) throws {
        let row = hardened ? Self.hardened : Self.row
        let (files, failures) = try BackendMatrix.conformanceCorpus(row)
        print("conformance corpus on \(row.name): \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }
}
