import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

/// The RISC-V 64 JIT as an execution engine (`--engine jit --arch riscv64`):
/// the image runs under Unicorn on the emulator's riscv64 row (RV64GC, LP64)
/// on any host.
///
/// `prepare` validates the program, resolves its helpers (unknown numbers
/// fail here) and compiles it with the shared pass driver at the address the
/// machine reserved for it, next to the helper trampolines (every helper
/// call a direct `jal`), 16 to 24 MiB away (`auipc` + `jalr`) or 4 GiB
/// and more away (every call built in t6). With Zba/Zbb on, the machine
/// performs those instructions, which Unicorn 2.0.1's RV64 core lacks
/// (`SoftInstructions`).
/// A 64-bit target sees host memory at its host addresses, as arm64 does:
/// stack, input, context and map values are used where they are.
///
/// Compiling into a machine's code area and running there are the shared
/// emulated path (`EmulatedJIT.compile`, `EmulatedJITRun`, `EmulatedJITMachines`).
public struct RV64JIT: ExecutionEngine {
    public let name = "jit"
    public var options: RV64Options
    public var placement: BPFEmulator.ImagePlacement

    public init(options: RV64Options = RV64Options(), placement: BPFEmulator.ImagePlacement = .nearHelpers) {
        self.options = options
        self.placement = placement
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        try emulate(program, configuration: configuration)
    }

    public var tailCallEngine: TailCallEngine? { .emulatedJIT(.riscv64) }

    /// The emulator's riscv64 row for code compiled with `options`: one
    /// that performs the Zba/Zbb instructions the options turn on.
    public static func architecture(_ options: RV64Options) -> EmulatedArchitecture {
        .riscv64(zba: options.zba, zbb: options.zbb)
    }

    /// Compiles `program` for an emulated machine and loads it there: a new
    /// machine, or the one every program sharing its program arrays runs on.
    public func emulate(_ program: Program, configuration: EngineConfiguration = EngineConfiguration()) throws(EngineError) -> RV64EmulatedProgram {
        let attachments = try configuration.tailCalls?.attach(program, engine: .emulatedJIT(.riscv64)) ?? []
        return try emulate(program, configuration: configuration, attachments: attachments)
    }

    func emulate(_ program: Program, configuration: EngineConfiguration, attachments: [TailCallAttachment]) throws(EngineError) -> RV64EmulatedProgram {
        // Near, middle and far images keep to machines of their own; code
        // with Zba/Zbb runs on a machine that performs them (Unicorn's
        // RV64 core lacks them), and plain code on one that faults on them.
        let variant = switch placement { case .nearHelpers: 0; case .farFromHelpers: 1; case .beyondShortCalls: 2 }
        let options = options
        return try EmulatedJIT.emulate(program, configuration: configuration, attachments: attachments, engineName: name,
                                       label: "riscv64", architecture: Self.architecture(options), variant: variant,
                                       engine: .emulatedJIT(.riscv64), placement: placement, targets: Self.targets(on:)) {
            (input, targets) throws(JITError) -> RV64Backend in
            try RV64Backend(program: input.code, helpers: input.helpers, options: options, targets: targets,
                            tailCalls: input.tailCalls, proofs: input.proofs)
        }
    }

    /// Assembles `program` for `address` against the given call targets,
    /// without placing it anywhere (encoder tests, listings).
    public static func assemble(_ program: Program, configuration: EngineConfiguration = EngineConfiguration(),
                                options: RV64Options = RV64Options(), at address: UInt,
                                targets: RV64CallTargets) throws(EngineError) -> JITImage {
        try JITEngineSteps.assemble(program, configuration: configuration, at: address, passSizes: \RV64Backend.passSizes) {
            (code, helpers, proofs) throws(JITError) in
            try RV64Backend(program: code, helpers: helpers, options: options, targets: targets, tailCalls: nil, proofs: proofs)
        }
    }

    /// The image `bpfkit dump jited --arch riscv64` lists: compiled as an
    /// emulated run would be, next to a machine's helper trampolines.
    public static func listingImage(_ program: Program, configuration: EngineConfiguration,
                                    options: RV64Options = RV64Options()) throws(EngineError) -> JITImage {
        try RV64JIT(options: options).emulate(program, configuration: configuration, attachments: []).image
    }

    static func targets(on machine: EmulatedMachine) throws(EmulatorError) -> RV64CallTargets {
        var addresses: [Int32: UInt64] = [:]
        for helper in machine.helpers.all { addresses[helper.id] = try machine.helperAddress(for: helper.id) }
        let check = try machine.runtimeCallAddress(for: RV64Backend.checkAccessCall)
        return RV64CallTargets(helpers: addresses, checkAccess: check)
    }
}

extension RV64Backend: EmulatedJITBackend {
    public static let addressing = EmulatedJITRun.Addressing.identity
    public static let nativePerBudgetUnit: UInt64 = 48
    public static let nativeSlack: UInt64 = 1 << 20
    public static let dynamicHelperMissing = RV64Status.dynamicHelperMissing
}

/// A RISC-V 64 image loaded into an emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 and r2 in a0 and a1 and a run context in a2
/// (`EmulatedJITRun`, identity addressing: host memory at its host
/// addresses). Helper calls land on the machine's trampolines; slow bounds
/// checks call `checkAccessCall`; a runaway program stops on the image's
/// own guard, and the emulator's count of native instructions is a
/// backstop behind it.
public typealias RV64EmulatedProgram = EmulatedJITPreparedProgram<RV64Backend>

extension RV64Backend {
    /// The slow bounds check under the emulator (`EmulatedJITRun.checkAccessCall`).
    public static let checkAccessCall = EmulatedJITRun.checkAccessCall(name: "bpfkit.riscv64.checkAccess", addressing: addressing)
}
