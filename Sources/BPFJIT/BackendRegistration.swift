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
    public let makeEngine: @Sendable (JITArchitecture) throws -> any ExecutionEngine
    /// The image for `dump jited`: the program compiled for one of
    /// `architectures` without running it.
    public let listingImage: @Sendable (Program, JITArchitecture, EngineConfiguration) throws -> JITImage

    public init(architectures: [JITArchitecture],
                makeEngine: @escaping @Sendable (JITArchitecture) throws -> any ExecutionEngine,
                listingImage: @escaping @Sendable (Program, JITArchitecture, EngineConfiguration) throws -> JITImage) {
        self.architectures = architectures
        self.makeEngine = makeEngine
        self.listingImage = listingImage
    }
}

/// Why a backend cannot serve a request (e.g. a native-only backend on another host).
public struct JITBackendUnavailable: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
