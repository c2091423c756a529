import BPFISA
import BPFRuntime

/// The reference interpreter: runs programs with exactly the semantics of
/// RFC 9669 (cpu v1–v4), checking every memory access.
///
/// `prepare` validates the program and decodes it once into a compact array
/// the dispatch loop reads directly; runs are independent of each other and
/// may happen on several threads at once.
///
/// Behaviour worth knowing beyond the RFC:
/// - Helper calls leave r1–r5 as they were (as the kernel's interpreter does);
///   r0 receives the result.
/// - Local calls get a new 512-byte frame each (r10 of the callee is its own
///   frame top); the caller's r6–r9 and r10 are restored when the callee exits.
///   Up to `ExecutionLimits.maxCallFrames` frames, counting the entry function.
/// - The stack starts zeroed on every run.
/// - Atomics are performed atomically on host memory and must be naturally
///   aligned; a misaligned one stops the run with `.unsupported`.
/// - `call %reg` (callx) calls the helper whose number the register holds; a
///   value outside the 32-bit range stops the run with `.unsupported`.
/// - Maps, variables and code addresses in 64-bit immediate loads, and kfunc
///   calls, must be resolved by the runtime first; if one is reached the run
///   stops with `.unsupported`.
public struct Interpreter: ExecutionEngine {
    public let name = "interpreter"

    public init() {}

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        do {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        let decoded = Predecoder(program: program, helpers: configuration.helpers)
        return InterpretedProgram(
            code: decoded.code, helpers: decoded.helpers, registry: configuration.helpers,
            unsupported: decoded.unsupported, instructionLimit: configuration.instructionLimit)
    }
}
