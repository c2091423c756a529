import BPFISA
import BPFLoader
import BPFRuntime

/// A classic filter translated to eBPF, verified, and prepared for one
/// engine: `run` answers for one packet how many bytes to keep (0: drop).
/// Runs reuse one packet buffer, so one filter runs one packet at a time.
public final class ClassicFilter: @unchecked Sendable {
    public let classic: ClassicProgram
    /// The translated program, as linked and verified.
    public let linked: LinkedProgram
    public let prepared: any PreparedProgram
    private var run: SocketFilterRun

    /// Translates `classic`, links it as a socket filter (the verifier runs
    /// and its proofs go to the engine) and prepares it on `engine`.
    public init(_ classic: ClassicProgram, engine: any ExecutionEngine, hardened: Bool = false,
                instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws {
        self.classic = classic
        let program = try ClassicTranslator.translate(classic)
        linked = try LinkedProgram(program: program, type: SocketFilterProgramType())
        prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: instructionLimit,
                                                                                                hardened: hardened))
        run = SocketFilterRun(capacity: 65_536)
    }

    /// The translated eBPF program.
    public var program: Program { linked.program }

    /// Runs the filter over `packet` (the captured bytes) and returns its result.
    public func run(_ packet: [UInt8], metadata: PacketMetadata) throws -> UInt32 {
        if packet.count > run.capacity { run = SocketFilterRun(capacity: max(packet.count, run.capacity * 2)) }
        run.load(packet, metadata: metadata)
        return UInt32(truncatingIfNeeded: try prepared.run(run.input))
    }
}
