import ArgumentParser
import BPFKit

/// `--riscv-ext`: the RISC-V extensions the riscv64 JIT uses beyond RV64IMA.
struct RISCVExtensionOptions: ParsableArguments {
    @Option(name: .customLong("riscv-ext"),
            help: ArgumentHelp("With --arch riscv64: extensions the JIT uses beyond RV64IMA, comma-separated: c (compressed), zba, zbb (default: none). The emulator performs Zba and Zbb, which its RV64 core lacks.",
                               valueName: "ext,..."))
    var riscvExt: String?

    /// The target options to make engines and listings with. Given with a
    /// target other than riscv64 (`applies` false) it is an error, not ignored.
    func target(applies: Bool) throws -> JITTargetOptions {
        guard let riscvExt else { return JITTargetOptions() }
        guard applies else { throw fail("--riscv-ext applies to the riscv64 JIT: give --engine jit --arch riscv64") }
        do {
            return try RISCVExtensions.target(riscvExt)
        } catch {
            throw fail(error.description)
        }
    }
}
