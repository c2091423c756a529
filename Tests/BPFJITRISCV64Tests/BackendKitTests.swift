import BPFBackendTestKit
import BPFEmulator
import BPFJITRISCV64
import BPFRuntime
import Testing

/// The RISC-V 64 rows of the shared backend test kit. Four configurations:
/// plain code next to the helpers (direct `jal` calls); compressed code
/// 4 GiB and more from them (calls built in t6); code with Zba and Zbb next
/// to the helpers, run on a machine that performs them (Unicorn's RV64 core
/// lacks them); and compressed code with Zba and Zbb 16 to 24 MiB from the
/// helpers, where every helper call is `auipc` + `jalr`. The
/// generated suite (about 20,000 cases) runs on the plain and the Zba/Zbb
/// configurations, to keep the emulated target's time small: compression
/// and placement change encodings (checked form by form against llvm-mc)
/// and layout, which the corpus, the random programs and the tail-call
/// corpus exercise on every configuration.
enum Rows {
    static let riscv64 = BackendRow(
        name: "riscv64",
        configurations: [("plain", RV64JIT()),
                         ("rvc far", RV64JIT(options: RV64Options(compressed: true), placement: .farFromHelpers)),
                         ("zba zbb", RV64JIT(options: RV64Options(zba: true, zbb: true))),
                         ("rvc zba zbb middle", RV64JIT(options: RV64Options(compressed: true, zba: true, zbb: true),
                                                        placement: .beyondShortCalls))],
        architecture: .riscv64,
        imageCounts: { prepared in
            (prepared as? RV64EmulatedProgram).map { ($0.machine.liveImageCount, $0.machine.mappedImageCounts.max() ?? 0) }
        },
        suiteRuns: { _, configuration in configuration == "plain" || configuration == "zba zbb" })

    /// Blinded code, plain and compressed: the conformance corpus through the
    /// facade's hardened runner (`--harden`), and the hardening tests.
    static let hardened = BackendRow(
        name: "riscv64 hardened",
        configurations: [("hardened", HardenedEngine(RV64JIT())),
                         ("hardened rvc", HardenedEngine(RV64JIT(options: RV64Options(compressed: true)))),
                         ("hardened zba zbb", HardenedEngine(RV64JIT(options: RV64Options(zba: true, zbb: true)))),
                         ("hardened rvc zba zbb", HardenedEngine(RV64JIT(options: RV64Options(compressed: true, zba: true, zbb: true))))],
        architecture: .riscv64, hardened: true)
}

/// Every check of the kit (`BackendKit.checks`) on RISC-V 64 under the emulator.
@Suite struct BackendKitTests {
    @Test(arguments: BackendKit.checks(Rows.riscv64))
    func kit(_ check: BackendCheck) throws {
        let report = try check.run()
        print(report.summary)
        let failures = "\(check): \(report.failures.count) failures:\n\(report.failures.prefix(10).joined(separator: "\n"))"
        if let known = check.knownIssue {
            withKnownIssue(Comment(rawValue: known)) { #expect(report.failures.isEmpty, Comment(rawValue: failures)) }
        } else {
            #expect(report.failures.isEmpty, Comment(rawValue: failures))
        }
    }

    /// The conformance corpus hardened (the kit runs it plain): through the
    /// facade's runner with `--harden`, and each file blinded, plain and
    /// compressed, against the interpreter.
    @Test func conformanceCorpusHardened() throws {
        let (files, failures) = try BackendMatrix.conformanceCorpus(Rows.hardened)
        print("conformance corpus on \(Rows.hardened.name): \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
    }
}
