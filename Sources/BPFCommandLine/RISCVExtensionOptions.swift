import ArgumentParser
import BPFKit

/// `--riscv-ext`: the RISC-V extensions the riscv64 JIT uses beyond RV64IMA.
struct RISCVExtensionOptions: ParsableArguments {
    @Option(name: .customLong("riscv-ext"),
            help: ArgumentHelp("With --arch riscv64: extensions the JIT uses beyond RV64IMA, comma-separated: c (compressed), zba, zbb (default: none). The emulator performs Zba and Zbb, which its RV64 core lacks.",
                               valueName: "ext,..."))
    var riscvExt: String?

    /// Runs `body` with the extensions on for riscv64 engines. Given with a
    /// target other than riscv64 (`target` false) it is an error, not ignored.
    func scope<R>(target: Bool, _ body: () throws -> R) throws -> R {
        guard let riscvExt else { return try body() }
        guard target else { throw fail("--riscv-ext applies to the riscv64 JIT: give --engine jit --arch riscv64") }
        do {
            return try RISCVExtensions.with(riscvExt, body)
        } catch let error as EngineSelectionError {
            throw fail(error.description)
        }
    }
}
