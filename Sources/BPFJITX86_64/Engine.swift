import BPFExecMemory
import BPFISA
import BPFJIT
import BPFRuntime

/// The x86-64 JIT as an execution engine (`--engine jit`).
///
/// `prepare` validates the program, resolves its helpers (unknown numbers
/// fail here), compiles it with the shared pass driver and places the image
/// in the engine's executable memory. On hosts other than x86-64 it fails
/// with `EngineError.unsupportedHost`; `assemble` still works anywhere.
public struct X86_64JIT: ExecutionEngine {
    public let name = "jit"
    public let memory: any CodeMemory
    public var options: JITOptions
    /// Where the image calls the host (tests substitute addresses).
    public var routines: X86_64Backend.HostRoutineAddresses

    public init(memory: any CodeMemory = ProgramPack.jit, options: JITOptions = JITOptions(),
                routines: X86_64Backend.HostRoutineAddresses = X86_64Backend.HostRoutineAddresses()) {
        self.memory = memory
        self.options = options
        self.routines = routines
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        try compile(program, configuration: configuration)
    }

    /// The engine's identity for tail calls: its column in program arrays.
    public static let tailCallEngine = TailCallEngine.jit(.x86_64)
    public var tailCallEngine: TailCallEngine? { Self.tailCallEngine }

    /// Compiles and places `program`, returning the concrete program (with
    /// its image and the fast call path). With program arrays in the
    /// configuration, the program is registered as a caller of those it
    /// loads and its direct tail-call sites with their slots.
    public func compile(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> NativeProgram {
        #if arch(x86_64)
        let attachments = try configuration.tailCalls?.attach(program, engine: Self.tailCallEngine) ?? []
        let (backend, helpers, blinding) = try Self.backend(program, configuration: configuration, options: options, routines: routines)
        var b = backend
        let compiled = blinding?.program ?? program
        let info = JITProgramInfo(helpers: helpers, stackSize: b.stackSize, unsupported: JITUnsupported.reasons(compiled),
                                  origin: blinding?.origin)
        b.programInfo = info.address
        do throws(JITError) {
            let (compiledImage, allocation) = try JITDriver.compile(compiled, backend: &b, placement: .memory(memory))
            let image = blinding?.restore(compiledImage) ?? compiledImage
            let links = JITTailCallLinks(engine: Self.tailCallEngine, attachments: attachments, patching: X86TailCallPatching())
            return NativeProgram(image: image, memory: memory, allocation: allocation!, info: info,
                                 usesRunContext: b.statistics.usesRunContext,
                                 instructionLimit: configuration.instructionLimit, tailCalls: links,
                                 inputLengthLimit: configuration.inputLengthLimit(for: program))
        } catch {
            throw Self.engineError(blinding?.restore(error) ?? error)
        }
        #else
        throw EngineError.unsupportedHost(engine: name, reason: "the jit engine generates x86-64 code; this host is not x86-64")
        #endif
    }

    /// Assembles `program` for `address` without placing it (dumps; works on any host).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: JITOptions = JITOptions(), at address: UInt,
                                routines: X86_64Backend.HostRoutineAddresses = X86_64Backend.HostRoutineAddresses()) throws(EngineError) -> JITImage {
        var (backend, _, blinding) = try backend(program, configuration: configuration, options: options, routines: routines)
        do throws(JITError) {
            let image = try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0
            return blinding?.restore(image) ?? image
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    static func backend(_ program: Program, configuration: EngineConfiguration, options: JITOptions,
                        routines: X86_64Backend.HostRoutineAddresses) throws(EngineError) -> (X86_64Backend, JITHelperTable, JITBlinding?) {
        do throws(ISAError) {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        var blinding: JITBlinding?
        do throws(JITError) {
            // Hardened: compile the constant-blinded program (`JITBlinding`);
            // everything the caller sees keeps the original numbering.
            blinding = configuration.hardened ? try JITBlinding.blind(program) : nil
            let compiled = blinding?.program ?? program
            var plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: tailCallEngine) }
            if let blinding { plan = blinding.plan(plan) }
            let helpers = try JITHelperTable(program: compiled, registry: configuration.helpers)
            var proofs = JITProofs(configuration.proofs, program: program, instructionLimit: configuration.instructionLimit,
                                   tailCalls: configuration.tailCalls)
            if let blinding { proofs = proofs.blinded(blinding) }
            return (try X86_64Backend(program: compiled, helpers: helpers, options: options, routines: routines, tailCalls: plan,
                                      proofs: proofs), helpers, blinding)
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    static func engineError(_ error: JITError) -> EngineError {
        .compilationFailed(pc: error.pc, reason: error.description)
    }
}
