import BPFEmulator
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The arm64 JIT as an execution engine (`--engine jit --arch arm64`).
///
/// `prepare` validates the program, resolves its helpers (unknown numbers
/// fail here) and compiles it with the shared pass driver. Where the code
/// runs is `execution`:
///
/// - `.emulated`: on any host, under Unicorn (BPFEmulator). Each prepared
///   program gets an `EmulatedMachine` whose helpers are the configuration's;
///   the image is reserved next to the helper trampolines (every call a
///   direct `bl`) or far from them (every call indirect), and its stack,
///   input, context and map values are used at their host addresses.
/// - `.native`: on an arm64 host, from the program pack, whose copy step
///   does the instruction-cache maintenance and keeps write-xor-execute.
///   This path compiles everywhere but can only run (and be tested) on arm64.
public struct Arm64JIT: ExecutionEngine {
    public let name = "jit"
    public var options: Arm64Options
    public var execution: Execution

    public enum Execution: Sendable, Hashable {
        /// Under the emulator, the image placed near or far from the helpers.
        case emulated(BPFEmulator.ImagePlacement)
        /// Natively (arm64 hosts only).
        case native

        /// Native on an arm64 host, else emulated with the image near the helpers.
        public static var hostDefault: Execution {
            #if arch(arm64)
            return .native
            #else
            return .emulated(.nearHelpers)
            #endif
        }
    }

    public init(options: Arm64Options = Arm64Options(atomics: Arm64JIT.hostAtomics),
                execution: Execution = .hostDefault) {
        self.options = options
        self.execution = execution
    }

    /// LSE when the CPU that runs the code has it: the emulated CPU (Unicorn's
    /// "max" model) does; on an arm64 Linux host the kernel says so in
    /// `AT_HWCAP` (`HWCAP_ATOMICS`); every Apple arm64 CPU has it.
    public static var hostAtomics: Arm64Atomics {
        #if os(Linux) && arch(arm64)
        guard let capabilities = linuxHardwareCapabilities() else { return .exclusive }
        return capabilities & (1 << 8) != 0 ? .lse : .exclusive
        #else
        return .lse
        #endif
    }

    /// `AT_HWCAP` (16) from the kernel's auxiliary vector, read from
    /// `/proc/self/auxv` (pairs of 64-bit type and value, ending with type 0):
    /// Swift's Glibc module does not offer `getauxval`. nil when unreadable.
    static func linuxHardwareCapabilities() -> UInt64? {
        #if os(Linux)
        let file = open("/proc/self/auxv", O_RDONLY)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var entry: (type: UInt64, value: UInt64) = (0, 0)
        while withUnsafeMutableBytes(of: &entry, { read(file, $0.baseAddress, $0.count) }) == 16 {
            if entry.type == 16 { return entry.value }
            if entry.type == 0 { break }
        }
        #endif
        return nil
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        switch execution {
        case .emulated(let placement): try emulate(program, configuration: configuration, placement: placement)
        case .native: try compileNative(program, configuration: configuration)
        }
    }

    /// The engine's identity in program arrays: natively, or under the
    /// emulator (whose images live in an emulated machine).
    public var tailCallEngine: TailCallEngine? {
        switch execution {
        case .native: .jit(.arm64)
        case .emulated: .emulatedJIT(.arm64)
        }
    }

    /// Compiles `program` for an emulated machine and loads it there: a new
    /// machine, or, for programs with program arrays, the machine every
    /// program sharing those arrays runs on (a tail call branches from one
    /// image into another, which must be one of the same machine).
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                        placement: BPFEmulator.ImagePlacement = .nearHelpers) throws(EngineError) -> Arm64EmulatedProgram {
        let engine = TailCallEngine.emulatedJIT(.arm64)
        let attachments = try configuration.tailCalls?.attach(program, engine: engine) ?? []
        return try emulate(program, configuration: configuration, placement: placement, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, placement: BPFEmulator.ImagePlacement,
                 attachments: [TailCallAttachment]) throws(EngineError) -> Arm64EmulatedProgram {
        let options = options
        return try EmulatedJIT.emulate(program, configuration: configuration, attachments: attachments, engineName: name,
                                       label: "arm64", architecture: .arm64, variant: placement == .nearHelpers ? 0 : 1,
                                       engine: .emulatedJIT(.arm64), placement: placement, targets: Self.targets(on:)) {
            (input, targets) throws(JITError) in
            try Arm64Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                             tailCalls: input.tailCalls, proofs: input.proofs)
        }
    }

    /// Compiles and places `program` in the program pack, to run natively.
    /// Only an arm64 host can run the result; elsewhere this fails with
    /// `EngineError.unsupportedHost` (use `emulate`, or `assemble` for the bytes).
    public func compileNative(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                              memory: any CodeMemory = ProgramPack.jit) throws(EngineError) -> NativeProgram {
        #if arch(arm64)
        return try place(program, configuration: configuration, memory: memory)
        #else
        throw EngineError.unsupportedHost(engine: name, reason: "native arm64 code runs on arm64 hosts only; this one runs it under the emulator")
        #endif
    }

    /// The native path's compile and placement, built on every host (so that
    /// it is type-checked everywhere) though only an arm64 host calls it.
    func place(_ program: Program, configuration: EngineConfiguration, memory: any CodeMemory) throws(EngineError) -> NativeProgram {
        let engine = TailCallEngine.jit(.arm64)
        let attachments = try configuration.tailCalls?.attach(program, engine: engine) ?? []
        let helpers = try Self.helperTable(program, configuration: configuration)
        let blinding = try Self.blinding(program, configuration: configuration)
        let compiled = blinding?.program ?? program
        var plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: engine) }
        if let blinding { plan = blinding.plan(plan) }
        var backend = try Self.backend(program, configuration: configuration, helpers: helpers, options: options,
                                       targets: .hostRoutines, tailCalls: plan, blinding: blinding)
        let info = JITProgramInfo(helpers: helpers, stackSize: backend.stackSize, unsupported: JITUnsupported.reasons(compiled),
                                  origin: blinding?.origin)
        backend.programInfo = info.address
        do throws(JITError) {
            let (compiledImage, allocation) = try JITDriver.compile(compiled, backend: &backend, placement: .memory(memory))
            try Self.checkLastPassesAgree(backend.passSizes, image: compiledImage)
            let image = blinding?.restore(compiledImage) ?? compiledImage
            // Indirect tail calls only: nothing to patch.
            return NativeProgram(image: image, memory: memory, allocation: allocation!, info: info,
                                 usesRunContext: backend.statistics.usesRunContext,
                                 instructionLimit: configuration.instructionLimit,
                                 tailCalls: JITTailCallLinks(engine: engine, attachments: attachments, patching: nil),
                                 inputLengthLimit: configuration.inputLengthLimit(for: program))
        } catch {
            throw Self.engineError(blinding?.restore(error) ?? error)
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it (dumps, benchmarks; works on any host).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: Arm64Options = Arm64Options(), at address: UInt,
                                targets: Arm64CallTargets = .hostRoutines) throws(EngineError) -> JITImage {
        let helpers = try helperTable(program, configuration: configuration)
        let blinding = try blinding(program, configuration: configuration)
        var plan = configuration.tailCalls.map { JITTailCallPlan(program, environment: $0, engine: .jit(.arm64)) }
        if let blinding { plan = blinding.plan(plan) }
        var backend = try backend(program, configuration: configuration, helpers: helpers, options: options, targets: targets,
                                  tailCalls: plan, blinding: blinding)
        do throws(JITError) {
            let image = try JITDriver.compile(blinding?.program ?? program, backend: &backend, placement: .address(address)).0
            try checkLastPassesAgree(backend.passSizes, image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// The image `bpfkit dump jited --arch arm64` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration, options: Arm64Options = Arm64Options(),
                                    placement: BPFEmulator.ImagePlacement = .nearHelpers) throws(EngineError) -> JITImage {
        let engine = Arm64JIT(options: options, execution: .emulated(placement))
        // A listing registers no caller with the program arrays.
        return try engine.emulate(program, configuration: configuration, placement: placement, attachments: []).image
    }

    // MARK: Shared steps

    /// Where the code of a machine's programs calls: every registered helper's
    /// trampoline (the `callx` table holds them all) and the check routine.
    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> Arm64CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        let check = try machine.runtimeCallAddress(for: Arm64Backend.checkAccessCall)
        return Arm64CallTargets(helpers: .perHelper(addresses), checkAccess: check)
    }

    static func helperTable(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITHelperTable {
        do throws(ISAError) {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        do throws(JITError) {
            return try JITHelperTable(program: program, registry: configuration.helpers)
        } catch {
            throw engineError(error)
        }
    }

    /// The constant-blinded form of `program` when the configuration asks
    /// for hardened code (`JITBlinding`), else nil.
    static func blinding(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITBlinding? {
        guard configuration.hardened else { return nil }
        do throws(JITError) {
            return try JITBlinding.blind(program)
        } catch {
            throw engineError(error)
        }
    }

    /// The backend for `program` (its blinded form when `blinding` is given),
    /// with whatever of `configuration.proofs` applies to it.
    static func backend(_ program: Program, configuration: EngineConfiguration, helpers: JITHelperTable, options: Arm64Options,
                        targets: Arm64CallTargets, tailCalls: JITTailCallPlan? = nil,
                        blinding: JITBlinding? = nil) throws(EngineError) -> Arm64Backend {
        var proofs = JITProofs(configuration.proofs, program: program, instructionLimit: configuration.instructionLimit,
                               tailCalls: configuration.tailCalls)
        if let blinding { proofs = proofs.blinded(blinding) }
        do throws(JITError) {
            return try Arm64Backend(program: blinding?.program ?? program, helpers: helpers, options: options, targets: targets,
                                    tailCalls: tailCalls, proofs: proofs)
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    /// Seed 000's assertion: the writing pass produced exactly the size of
    /// the pass before it (the one that decided every call's form).
    static func checkLastPassesAgree(_ sizes: [Int], image: JITImage) throws(JITError) {
        guard let last = sizes.last, last == image.size else {
            throw .unencodable("the writing pass produced \(image.size) bytes, the backend counted \(sizes.last ?? -1)")
        }
        if sizes.count >= 2, sizes[sizes.count - 2] != last {
            throw .didNotConverge(passes: sizes.count)
        }
    }

    static func engineError(_ error: JITError) -> EngineError {
        .compilationFailed(pc: error.pc, reason: error.description)
    }
}

extension Arm64Backend: EmulatedJITBackend {
    public static let addressing = EmulatedJITRun.Addressing.identity
    /// More native instructions than any loop body's code per BPF instruction it charges.
    public static let nativePerBudgetUnit: UInt64 = 32
    public static let nativeSlack: UInt64 = 1 << 20
    public static let dynamicHelperMissing = Arm64Status.dynamicHelperMissing
}
