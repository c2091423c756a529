import BPFISA
import BPFJIT
import BPFRuntime

extension RV64JIT {
    /// The RISC-V 64 backend (RV64IMA), under the emulator.
    public static let registration = JITBackendRegistration(
        architectures: [.riscv64],
        makeEngine: { _ in RV64JIT() },
        listingImage: { program, _, configuration in try RV64JIT.listingImage(program, configuration: configuration) })
}
