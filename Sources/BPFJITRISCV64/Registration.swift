import BPFISA
import BPFJIT
import BPFRuntime

extension RV64JIT {
    /// The options of the engines and listings the registration makes
    /// (`--engine jit --arch riscv64`, `dump jited --arch riscv64`): plain
    /// RV64IMA unless a caller binds others for the extent of an operation
    /// (the command line's `--riscv-ext`, through `RISCVExtensions.with`).
    @TaskLocal public static var selectedOptions = RV64Options()

    /// The RISC-V 64 backend (RV64IMA; C, Zba and Zbb as selected), under the emulator.
    public static let registration = JITBackendRegistration(
        architectures: [.riscv64],
        makeEngine: { _ in RV64JIT(options: selectedOptions) },
        listingImage: { program, _, configuration in
            try RV64JIT.listingImage(program, configuration: configuration, options: selectedOptions)
        })
}
