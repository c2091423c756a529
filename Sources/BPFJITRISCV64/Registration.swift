import BPFISA
import BPFJIT
import BPFRuntime

extension RV64JIT {
    /// The RISC-V 64 backend (RV64IMA; C, Zba and Zbb as the target options
    /// name them: `JITTargetOptions.extensions`, the command line's
    /// `--riscv-ext`), under the emulator. Names it does not know were
    /// refused before an engine is asked for (`RV64Options.parsingExtensions`).
    public static let registration = JITBackendRegistration(
        architectures: [.riscv64],
        makeEngine: { _, target in RV64JIT(options: options(target)) },
        listingImage: { program, _, configuration, target in
            try RV64JIT.listingImage(program, configuration: configuration, options: options(target))
        })

    /// The options `target`'s extensions select (plain RV64IMA for none).
    public static func options(_ target: JITTargetOptions) -> RV64Options {
        RV64Options.parsingExtensions(target.extensions.joined(separator: ",")).0 ?? RV64Options()
    }
}
