import BPFISA
import BPFJIT
import BPFRuntime

extension X86_64JIT {
    /// The x86-64 backend: native on x86-64 hosts only.
    public static let registration = JITBackendRegistration(
        architectures: [.x86_64],
        makeEngine: { _, _ in
            guard JITArchitecture.host == .x86_64 else {
                throw JITBackendUnavailable("the x86_64 JIT runs natively only on x86-64 hosts; this host is \(JITArchitecture.host?.rawValue ?? "unknown")")
            }
            // The command line's engine: instruction selection as
            // `BPFKIT_X86_PEEPHOLES` says (all when unset), read once.
            return X86_64JIT(options: JITOptions(instructionSelection: .environment))
        },
        listingImage: { program, _, configuration, _ in
            #if arch(x86_64)
            // Where the engine would place it: calls into the host take the
            // form they take there (direct when the pack lies within reach).
            return try X86_64JIT(options: JITOptions(instructionSelection: .environment))
                .compile(program, configuration: configuration).image
            #else
            return try X86_64JIT.assemble(program, configuration: configuration,
                                          options: JITOptions(instructionSelection: .environment), at: 0x1000_0000)
            #endif
        })
}
