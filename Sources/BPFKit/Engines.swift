import BPFISA
import BPFRuntime
import BPFInterpreter

/// The engines a program can run on, as the command line names them.
public enum EngineKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The reference interpreter: RFC 9669 semantics, every access checked.
    case interpreter
    /// A JIT backend for `Architecture`, run natively or under the CPU emulator.
    case jit

    public var description: String { rawValue }
}

/// Target architectures of the JIT backends.
public enum Architecture: String, Sendable, CaseIterable, CustomStringConvertible {
    case x86_64 = "x86_64"
    case arm64
    case arm32
    case mips32le
    case mips32be
    case riscv64

    /// The architecture BPFKit itself runs on, if it is one of ours.
    public static var host: Architecture? {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .arm64
        #else
        return nil
        #endif
    }

    public var description: String { rawValue }

    /// Parses the names people type (`x86-64`, `aarch64`, `mips`...).
    public init?(name: String) {
        switch name.lowercased() {
        case "x86_64", "x86-64", "amd64", "x64": self = .x86_64
        case "arm64", "aarch64": self = .arm64
        case "arm32", "arm", "armv7": self = .arm32
        case "mips32le", "mipsel", "mips32el": self = .mips32le
        case "mips32be", "mips", "mips32": self = .mips32be
        case "riscv64", "riscv", "rv64": self = .riscv64
        default: return nil
        }
    }
}

/// Why no engine could be chosen.
public struct EngineSelectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Picks the `ExecutionEngine` for an engine kind and architecture.
///
/// This is the one place that knows every backend: a new architecture adds
/// one case here and one target; nothing else changes.
public enum EngineCatalog {
    public static func engine(_ kind: EngineKind, architecture: Architecture? = nil) throws(EngineSelectionError) -> any ExecutionEngine {
        switch kind {
        case .interpreter:
            if let architecture, architecture != Architecture.host {
                throw EngineSelectionError(description: "--arch \(architecture) applies to --engine jit; the interpreter runs on the host")
            }
            return Interpreter()
        case .jit:
            let target = architecture ?? Architecture.host
            guard let target else {
                throw EngineSelectionError(description: "no JIT backend exists for this host; choose one with --arch")
            }
            return try jitEngine(for: target)
        }
    }

    /// The JIT backends built so far, by architecture.
    static func jitEngine(for architecture: Architecture) throws(EngineSelectionError) -> any ExecutionEngine {
        throw EngineSelectionError(description: "the \(architecture) JIT backend is not built yet")
    }
}
