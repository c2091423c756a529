import BPFJIT
import BPFJITRISCV64

/// The RISC-V extensions beyond RV64IMA that the riscv64 JIT may use, as the
/// command line's `--riscv-ext` names them: `c` (compressed instructions),
/// `zba` (address generation), `zbb` (basic bit manipulation).
public enum RISCVExtensions {
    public static let names = ["c", "zba", "zbb"]

    /// The target options for the extensions `list` names (comma-separated),
    /// to pass where riscv64 engines and listings are made (`EngineCatalog`,
    /// `LoadedProgram`, `ConformanceRunner`); an error naming the first name
    /// that is not one of them.
    public static func target(_ list: String) throws(EngineSelectionError) -> JITTargetOptions {
        let (options, unknown) = RV64Options.parsingExtensions(list)
        guard let options else {
            throw EngineSelectionError(description: "unknown RISC-V extension '\(unknown ?? list)' (choose from \(names.joined(separator: ", ")))")
        }
        return JITTargetOptions(extensions: options.extensionNames)
    }
}
