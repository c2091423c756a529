import BPFISA
import BPFJIT
import BPFRuntime

extension Arm64JIT {
    /// The arm64 backend: native on arm64 hosts, under the emulator elsewhere.
    public static let registration = JITBackendRegistration(
        architectures: [.arm64],
        makeEngine: { _, _ in Arm64JIT() },
        listingImage: { program, _, configuration, _ in try Arm64JIT.listingImage(program, configuration: configuration) })
}
