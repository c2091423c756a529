import ArgumentParser
import BPFKit

/// `--engine` and `--arch`, shared by every command that runs programs.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Engine: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var engine: String = EngineKind.interpreter.rawValue

    @Option(name: .long, help: "JIT target architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")) (default: the host).")
    var arch: String?

    @Flag(name: .long, help: "Hardened JIT: blind every constant the program chooses (the kernel's bpf_jit_harden), so none appears in executable memory.")
    var harden = false

    func resolve() throws(ExitCode) -> (EngineKind, Architecture?) {
        guard let kind = EngineKind(rawValue: engine) else {
            throw fail("unknown engine '\(engine)' (choose \(EngineKind.allCases.map(\.rawValue).joined(separator: " or ")))")
        }
        guard let arch else { return (kind, nil) }
        guard let architecture = Architecture(name: arch) else {
            throw fail("unknown architecture '\(arch)' (choose one of \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return (kind, architecture)
    }
}
