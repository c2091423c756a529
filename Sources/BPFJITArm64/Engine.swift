import BPFEmulator
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFRuntime
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

    /// Compiles `program` for a new emulated machine and loads it there.
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                        placement: BPFEmulator.ImagePlacement = .nearHelpers) throws(EngineError) -> Arm64EmulatedProgram {
        let helpers = try Self.helperTable(program, configuration: configuration)
        let machine: EmulatedMachine
        let targets: Arm64CallTargets
        do throws(EmulatorError) {
            machine = try EmulatedMachine(architecture: .arm64, helpers: configuration.helpers)
            targets = try Self.targets(on: machine)
        } catch {
            throw .unsupportedHost(engine: name, reason: "the arm64 emulator: \(error)")
        }
        var backend = try Self.backend(program, helpers: helpers, options: options, targets: targets)
        let image: JITImage, allocation: CodeAllocation?
        do throws(JITError) {
            (image, allocation) = try JITDriver.compile(program, backend: &backend,
                                                        placement: .memory(EmulatorImageMemory(machine, placement: placement)))
            try Self.checkLastPassesAgree(backend.passSizes, image: image)
        } catch {
            throw Self.engineError(error)
        }
        do throws(EmulatorError) {
            return try Arm64EmulatedProgram(image: image, machine: machine, reservation: allocation!.token as! ImageReservation,
                                            backend: backend, instructionLimit: configuration.instructionLimit,
                                            unsupported: JITUnsupported.reasons(program))
        } catch {
            throw .compilationFailed(pc: nil, reason: "loading the arm64 image into the emulator: \(error)")
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
        let helpers = try Self.helperTable(program, configuration: configuration)
        var backend = try Self.backend(program, helpers: helpers, options: options, targets: .hostRoutines)
        do throws(JITError) {
            let (image, allocation) = try JITDriver.compile(program, backend: &backend, placement: .memory(memory))
            try Self.checkLastPassesAgree(backend.passSizes, image: image)
            return NativeProgram(image: image, memory: memory, allocation: allocation!, helpers: helpers,
                                 stackSize: backend.stackSize, usesRunContext: backend.statistics.usesRunContext,
                                 instructionLimit: configuration.instructionLimit,
                                 unsupported: JITUnsupported.reasons(program))
        } catch {
            throw Self.engineError(error)
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it (dumps, benchmarks; works on any host).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: Arm64Options = Arm64Options(), at address: UInt,
                                targets: Arm64CallTargets = .hostRoutines) throws(EngineError) -> JITImage {
        let helpers = try helperTable(program, configuration: configuration)
        var backend = try backend(program, helpers: helpers, options: options, targets: targets)
        do throws(JITError) {
            let image = try JITDriver.compile(program, backend: &backend, placement: .address(address)).0
            try checkLastPassesAgree(backend.passSizes, image: image)
            return image
        } catch {
            throw engineError(error)
        }
    }

    /// The image `bpfkit dump jited --arch arm64` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, helpers registry: HelperRegistry,
                                    options: Arm64Options = Arm64Options(),
                                    placement: BPFEmulator.ImagePlacement = .nearHelpers) throws(EngineError) -> JITImage {
        let engine = Arm64JIT(options: options, execution: .emulated(placement))
        return try engine.emulate(program, configuration: EngineConfiguration(helpers: registry), placement: placement).image
    }

    // MARK: Shared steps

    /// Where the code of a machine's programs calls: every registered helper's
    /// trampoline (the `callx` table holds them all) and the check routine.
    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> Arm64CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        let check = try machine.runtimeCallAddress(for: Arm64EmulatedProgram.checkAccessCall)
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

    static func backend(_ program: Program, helpers: JITHelperTable, options: Arm64Options,
                        targets: Arm64CallTargets) throws(EngineError) -> Arm64Backend {
        do throws(JITError) {
            return try Arm64Backend(program: program, helpers: helpers, options: options, targets: targets)
        } catch {
            throw engineError(error)
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
