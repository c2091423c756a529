import BPFISA
import BPFJIT
import BPFRuntime

extension Arm32JIT {
    /// The arm32 (ARMv7-A) backend, under the emulator.
    public static let registration = JITBackendRegistration(
        architectures: [.arm32],
        makeEngine: { _, _ in Arm32JIT() },
        listingImage: { program, _, configuration, _ in try Arm32JIT.listingImage(program, configuration: configuration) })
}
