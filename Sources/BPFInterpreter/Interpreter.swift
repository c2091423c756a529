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
/// - The stack starts zeroed on every run (unless `stackFill` says otherwise,
///   which only tests do).
/// - Memory is read and written in `byteOrder`: the host's by default; the
///   other order (big endian on the little-endian hosts BPFKit runs on) is
///   the semantics a BPF program has on a big-endian machine (a `bpfeb`
///   object, the mips32be JIT), where loads, stores and atomics see memory
///   big-endian and `le`/`be` swap accordingly.
/// - Atomics are performed atomically on host memory and must be naturally
///   aligned; a misaligned one stops the run with `.unsupported`.
/// - `call %reg` (callx) calls the helper whose number the register holds; a
///   value outside the 32-bit range stops the run with `.unsupported`.
/// - With the program arrays in the configuration (`tailCalls`), `call 12` is
///   `bpf_tail_call`: an index out of range, an empty slot or a run that
///   already made 33 tail calls fall through with r0–r5 unchanged; otherwise
///   the target starts with the caller's r1 and r2, r0 and r3–r9 zero, a
///   fresh zeroed stack, and the run's shared budget and tail-call count.
///   From the entry function it replaces the program; from a subprogram it
///   replaces that subprogram's frame, and its r0 goes to the subprogram's caller.
/// - Maps, variables and code addresses in 64-bit immediate loads, and kfunc
///   calls, must be resolved by the runtime first; if one is reached the run
///   stops with `.unsupported`.
public struct Interpreter: ExecutionEngine {
    public let name = "interpreter"
    public var tailCallEngine: TailCallEngine? { .interpreter }

    /// What the stack holds when a run starts.
    public var stackFill: StackFill
    /// The byte order of the program's memory.
    public var byteOrder: ByteOrder = .host

    public init() {
        stackFill = .zero
    }

    public init(stackFill: StackFill) {
        self.stackFill = stackFill
    }

    /// An interpreter whose memory has the given byte order.
    public init(byteOrder: ByteOrder) {
        stackFill = .zero
        self.byteOrder = byteOrder
    }

    public func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
        do {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        let attachments = try configuration.tailCalls?.attach(program, engine: .interpreter) ?? []
        let decoded = Predecoder(program: program, helpers: configuration.helpers, tailCalls: configuration.tailCalls != nil,
                                 byteOrder: byteOrder)
        // Proofs count only for exactly these instructions.
        let proofs = configuration.proofs.flatMap { $0.applies(to: program) ? $0 : nil }
        return InterpretedProgram(
            code: decoded.code, helpers: decoded.helpers, registry: configuration.helpers,
            unsupported: decoded.unsupported, instructionLimit: configuration.instructionLimit,
            tailCallArrays: attachments, stackFill: stackFill, swapsBytes: byteOrder != .host, proofs: proofs)
    }
}

/// What the interpreter's stack (all frames) holds when a run starts.
public enum StackFill: Sendable, Hashable {
    /// Zeros, as every engine starts a run.
    case zero
    /// The same pseudo-random bytes every run, from `seed`: for tests showing
    /// that a program proven to read only stack it wrote does not depend on
    /// what the stack held.
    case garbage(seed: UInt64)
}
