import BPFJITRISCV64

/// The RISC-V extensions beyond RV64IMA that the riscv64 JIT may use, as the
/// command line's `--riscv-ext` names them: `c` (compressed instructions),
/// `zba` (address generation), `zbb` (basic bit manipulation).
public enum RISCVExtensions {
    public static let names = ["c", "zba", "zbb"]

    /// The extensions riscv64 engines made now compile with (empty: plain RV64IMA).
    public static var selected: [String] { RV64JIT.selectedOptions.extensionNames }

    /// Runs `body` with every riscv64 engine and listing `EngineCatalog`
    /// makes compiling with the extensions `list` names (comma-separated);
    /// an error naming the first name that is not one of them.
    public static func with<R>(_ list: String, _ body: () throws -> R) throws -> R {
        let (options, unknown) = RV64Options.parsingExtensions(list)
        guard let options else {
            throw EngineSelectionError(description: "unknown RISC-V extension '\(unknown ?? list)' (choose from \(names.joined(separator: ", ")))")
        }
        return try RV64JIT.$selectedOptions.withValue(options) { try body() }
    }
}
