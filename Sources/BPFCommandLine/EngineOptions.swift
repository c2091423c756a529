import BPFISA
import ArgumentParser
import BPFKit

/// `--engine` and `--arch`, shared by every command that runs programs.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Engine: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var engine: String = EngineKind.interpreter.rawValue

    @Option(name: .long, help: ArgumentHelp("JIT target architecture: \(EngineOptions.builtArchitectureList) (default: the host).",
                                            valueName: "arch"),
            completion: .list(EngineCatalog.builtArchitectures.map(\.rawValue)))
    var arch: String?

    @Option(name: .customLong("byte-order"), help: "Byte order of BPF memory: little or big (default: the program's for the interpreter, a bpfeb object being big; the target's for a JIT, --arch mips32be being big). C is compiled for it (-target bpfeb when big).")
    var byteOrder: String?

    /// The `--byte-order` asked for, if any.
    func resolveByteOrder() throws(ExitCode) -> ByteOrder? {
        switch byteOrder?.lowercased() {
        case nil: return nil
        case "big", "be": return .big
        case "little", "le": return .little
        case let other?: throw fail("unknown byte order '\(other)' (choose little or big)")
        }
    }

    @Flag(name: .long, help: "Hardened JIT: blind every constant the program chooses (the kernel's bpf_jit_harden), so none appears in executable memory.")
    var harden = false

    /// The byte order to compile C for: big for a big-endian engine
    /// (`--byte-order big`, `--arch mips32be`), else nil (`-target bpf`).
    static func compileOrder(_ engine: EngineKind, architecture: Architecture?, byteOrder: ByteOrder?) -> ByteOrder? {
        EngineCatalog.memoryOrder(engine, architecture: architecture, byteOrder: byteOrder) == .big ? .big : nil
    }

    func resolve() throws(ExitCode) -> (EngineKind, Architecture?) {
        guard let kind = EngineKind(rawValue: engine) else {
            throw fail("unknown engine '\(engine)' (choose \(EngineKind.allCases.map(\.rawValue).joined(separator: " or ")))")
        }
        guard let arch else { return (kind, nil) }
        return (kind, try Self.architecture(named: arch))
    }

    /// The architectures whose JIT backend is built, for help texts.
    static var builtArchitectureList: String { EngineCatalog.builtArchitectures.map(\.rawValue).joined(separator: ", ") }

    /// Parses `--arch`, accepting only architectures with a built backend.
    static func architecture(named name: String) throws(ExitCode) -> Architecture {
        guard let architecture = Architecture(name: name), EngineCatalog.builtArchitectures.contains(architecture) else {
            throw fail("unknown architecture '\(name)' (choose one of \(builtArchitectureList))")
        }
        return architecture
    }
}
