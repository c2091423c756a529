import BPFISA
import BPFRuntime
import BPFInterpreter
import BPFJIT
import BPFJITArm32
import BPFJITArm64
import BPFJITMIPS32
import BPFJITX86_64

/// The engines a program can run on, as the command line names them.
public enum EngineKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The reference interpreter: RFC 9669 semantics, every access checked.
    case interpreter
    /// A JIT backend for `Architecture`, run natively or under the CPU emulator.
    case jit

    public var description: String { rawValue }
}

/// Target architectures of the JIT backends (defined once, in the JIT core).
public typealias Architecture = JITArchitecture

/// Why no engine could be chosen.
public struct EngineSelectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Picks the `ExecutionEngine` for an engine kind and architecture.
///
/// This is the one place that knows every backend: a new architecture adds
/// one case here and one target; nothing else changes.
public enum EngineCatalog {
    /// `byteOrder` is the order of the program's memory: the interpreter
    /// runs in either (big endian is a `bpfeb` program's semantics); a JIT
    /// has its target's (mips32be big, every other target little), and
    /// asking a JIT for the other order is an error.
    public static func engine(_ kind: EngineKind, architecture: Architecture? = nil,
                              byteOrder: ByteOrder? = nil) throws(EngineSelectionError) -> any ExecutionEngine {
        switch kind {
        case .interpreter:
            if let architecture, architecture != Architecture.host {
                throw EngineSelectionError(description: "--arch \(architecture) applies to --engine jit; the interpreter runs on the host")
            }
            return Interpreter(byteOrder: byteOrder ?? .host)
        case .jit:
            let target = architecture ?? Architecture.host
            guard let target else {
                throw EngineSelectionError(description: "no JIT backend exists for this host; choose one with --arch")
            }
            if let byteOrder, byteOrder != target.byteOrder {
                throw EngineSelectionError(description: "the \(target) JIT runs \(target.byteOrder == .big ? "big" : "little")-endian; --byte-order \(byteOrder == .big ? "big" : "little") needs another target (mips32be is big-endian)")
            }
            return try jitEngine(for: target)
        }
    }

    /// The byte order of an engine's memory: `byteOrder` for the
    /// interpreter (the host's when nil), the target's for a JIT (the
    /// host's target when `architecture` is nil).
    public static func memoryOrder(_ kind: EngineKind, architecture: Architecture? = nil, byteOrder: ByteOrder? = nil) -> ByteOrder {
        switch kind {
        case .interpreter: byteOrder ?? .host
        case .jit: (architecture ?? Architecture.host)?.byteOrder ?? .host
        }
    }

    /// The JIT backends built so far, by architecture. A backend for the host
    /// runs natively; one for another architecture runs under the emulator.
    static func jitEngine(for architecture: Architecture) throws(EngineSelectionError) -> any ExecutionEngine {
        switch architecture {
        case .x86_64:
            guard Architecture.host == .x86_64 else {
                throw EngineSelectionError(description: "the x86_64 JIT runs natively only on x86-64 hosts; this host is \(Architecture.host?.rawValue ?? "unknown")")
            }
            return X86_64JIT()
        case .arm64: return Arm64JIT()
        case .arm32: return Arm32JIT()
        case .mips32le: return MIPS32JIT(bigEndian: false)
        case .mips32be: return MIPS32JIT(bigEndian: true)
        case .riscv64:
            throw EngineSelectionError(description: "the \(architecture) JIT backend is not built yet")
        }
    }

    /// Compiles a program for `architecture` without running it, for listings
    /// (`bpfkit dump jited`): the image at a nominal address, with its
    /// pc-to-native map and call statistics.
    /// The configuration is the one the engine would be given (helpers,
    /// program arrays, the verifier's proofs), so the listing is the code
    /// that would run.
    public static func jitImage(_ program: Program, architecture: Architecture, configuration: EngineConfiguration) throws -> JITImage {
        switch architecture {
        case .x86_64:
            #if arch(x86_64)
            // Where the engine would place it: calls into the host take the
            // form they take there (direct when the pack lies within reach).
            return try X86_64JIT().compile(program, configuration: configuration).image
            #else
            return try X86_64JIT.assemble(program, configuration: configuration, at: 0x1000_0000)
            #endif
        case .arm64: return try Arm64JIT.listingImage(program, configuration: configuration)
        case .arm32: return try Arm32JIT.listingImage(program, configuration: configuration)
        case .mips32le, .mips32be:
            return try MIPS32JIT.listingImage(program, configuration: configuration,
                                              options: MIPS32Options(bigEndian: architecture == .mips32be))
        case .riscv64:
            throw EngineSelectionError(description: "the \(architecture) JIT backend is not built yet")
        }
    }
}

extension Architecture {
    /// The byte order of the target's memory (and so of BPF memory on it).
    public var byteOrder: ByteOrder { self == .mips32be ? .big : .little }
}
