import BPFISA
import BPFRuntime

/// What a JIT backend tells the rest of BPFKit about itself: the
/// architectures it targets, how to make its engine and how to list its code.
///
/// Each backend target declares one (`X86_64JIT.registration`, ...); the
/// facade's engine catalog collects them, and the architectures offered
/// anywhere (`--arch`, its help, `dump jited`) are the ones some registered
/// backend targets. An architecture with no backend is never offered.
public struct JITBackendRegistration: Sendable {
    /// The architectures this backend compiles for.
    public let architectures: [JITArchitecture]
    /// The engine for one of `architectures` (native, or under the emulator);
    /// throws when this host cannot run it.
    /// The engine compiles with `target`'s choices (`JITTargetOptions`).
    public let makeEngine: @Sendable (JITArchitecture, JITTargetOptions) throws -> any ExecutionEngine
    /// The image for `dump jited`: the program compiled for one of
    /// `architectures` (with `target`'s choices) without running it.
    public let listingImage: @Sendable (Program, JITArchitecture, EngineConfiguration, JITTargetOptions) throws -> JITImage

    public init(architectures: [JITArchitecture],
                makeEngine: @escaping @Sendable (JITArchitecture, JITTargetOptions) throws -> any ExecutionEngine,
                listingImage: @escaping @Sendable (Program, JITArchitecture, EngineConfiguration, JITTargetOptions) throws -> JITImage) {
        self.architectures = architectures
        self.makeEngine = makeEngine
        self.listingImage = listingImage
    }
}

/// What a caller chooses about the code a backend emits that its
/// architecture leaves open: the instruction-set extensions beyond the base
/// the code may use, by the names the command line gives them (RISC-V's
/// `c`, `zba`, `zbb`: `--riscv-ext`). Passed where engines and listings are
/// made (`EngineCatalog`); each backend reads the names it knows, and
/// nothing here is global or scoped state. Empty: the base instruction set.
public struct JITTargetOptions: Sendable, Hashable {
    public var extensions: [String]

    public init(extensions: [String] = []) {
        self.extensions = extensions
    }
}

/// Why a backend cannot serve a request (e.g. a native-only backend on another host).
public struct JITBackendUnavailable: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
