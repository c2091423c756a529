import BPFISA
import BPFRuntime
import BPFInterpreter
import BPFJIT
import BPFJITArm32
import BPFJITArm64
import BPFJITMIPS32
import BPFJITRISCV64
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
/// It collects the backends' own registrations (`backends`): a new backend
/// adds its target and one line there; every list of architectures follows.
public enum EngineCatalog {
    /// `byteOrder` is the order of the program's memory: the interpreter
    /// runs in either (big endian is a `bpfeb` program's semantics); a JIT
    /// has its target's (mips32be big, every other target little), and
    /// asking a JIT for the other order is an error. `target`: what a JIT's
    /// code may use beyond its base instruction set (RISC-V extensions;
    /// `RISCVExtensions.target` checks the names); the interpreter ignores it.
    public static func engine(_ kind: EngineKind, architecture: Architecture? = nil, byteOrder: ByteOrder? = nil,
                              target: JITTargetOptions = JITTargetOptions()) throws(EngineSelectionError) -> any ExecutionEngine {
        switch kind {
        case .interpreter:
            if let architecture, architecture != Architecture.host {
                throw EngineSelectionError(description: "--arch \(architecture) applies to --engine jit; the interpreter runs on the host")
            }
            return Interpreter(byteOrder: byteOrder ?? .host)
        case .jit:
            let options = target
            let target = architecture ?? Architecture.host
            guard let target else {
                throw EngineSelectionError(description: "no JIT backend exists for this host; choose one with --arch")
            }
            if let byteOrder, byteOrder != target.byteOrder {
                throw EngineSelectionError(description: "the \(target) JIT runs \(target.byteOrder == .big ? "big" : "little")-endian; --byte-order \(byteOrder == .big ? "big" : "little") needs another target (mips32be is big-endian)")
            }
            return try jitEngine(for: target, options: options)
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

    /// The JIT backends this build has, each as it registers itself. A new
    /// backend adds its target and its `registration` here; every list of
    /// architectures (`--arch`, help, errors) follows from this one.
    public static let backends: [JITBackendRegistration] = [
        X86_64JIT.registration,
        Arm64JIT.registration,
        Arm32JIT.registration,
        MIPS32JIT.registration,
        RV64JIT.registration,
    ]

    /// The architectures some built backend targets, in `Architecture`'s order.
    public static var builtArchitectures: [Architecture] {
        let served = Set(backends.flatMap(\.architectures))
        return Architecture.allCases.filter(served.contains)
    }

    /// The backend that targets `architecture`.
    static func backend(for architecture: Architecture) throws(EngineSelectionError) -> JITBackendRegistration {
        guard let backend = backends.first(where: { $0.architectures.contains(architecture) }) else {
            throw EngineSelectionError(description: "no JIT backend for \(architecture) is built (built: \(builtArchitectures.map(\.rawValue).joined(separator: ", ")))")
        }
        return backend
    }

    /// The engine of the backend for `architecture`. A backend for the host
    /// runs natively; one for another architecture runs under the emulator.
    static func jitEngine(for architecture: Architecture, options: JITTargetOptions) throws(EngineSelectionError) -> any ExecutionEngine {
        let backend = try backend(for: architecture)
        do { return try backend.makeEngine(architecture, options) } catch {
            throw EngineSelectionError(description: "\(error)")
        }
    }

    /// Compiles a program for `architecture` without running it, for listings
    /// (`bpfkit dump jited`): the image at a nominal address, with its
    /// pc-to-native map and call statistics.
    /// The configuration is the one the engine would be given (helpers,
    /// program arrays, the verifier's proofs), so the listing is the code
    /// that would run.
    public static func jitImage(_ program: Program, architecture: Architecture, configuration: EngineConfiguration,
                                target: JITTargetOptions = JITTargetOptions()) throws -> JITImage {
        try backend(for: architecture).listingImage(program, architecture, configuration, target)
    }
}

extension Architecture {
    /// The byte order of the target's memory (and so of BPF memory on it).
    public var byteOrder: ByteOrder { self == .mips32be ? .big : .little }
}
