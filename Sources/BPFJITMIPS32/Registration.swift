import BPFISA
import BPFJIT
import BPFRuntime

extension MIPS32JIT {
    /// The MIPS32 Release 2 backend, both byte orders, under the emulator.
    public static let registration = JITBackendRegistration(
        architectures: [.mips32le, .mips32be],
        makeEngine: { architecture, _ in MIPS32JIT(bigEndian: architecture == .mips32be) },
        listingImage: { program, architecture, configuration, _ in
            try MIPS32JIT.listingImage(program, configuration: configuration,
                                       options: MIPS32Options(bigEndian: architecture == .mips32be))
        })
}
