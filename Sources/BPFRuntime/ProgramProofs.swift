import BPFISA

/// What BPFKit's verifier proved about one program, which engines may rely
/// on to leave run-time checks out of the code they generate.
///
/// BPFKit runs every program safely whether or not it was verified: an
/// access the verifier could not prove keeps its run-time bounds check, a
/// loop it could not bound keeps the runaway guard. Proofs only remove
/// checks. Because a wrong proof would let a program touch host memory, only
/// the verifier (`BPFVerifier`, in this package) can make one, and an engine
/// uses a proof only for the exact instructions it was made from
/// (`applies(to:)`).
public struct ProgramProofs: Sendable, Hashable {
    /// The instructions the facts are about (after the loader's rewrites).
    public let instructions: [Instruction]
    /// Per slot: the load, store or atomic at that slot stays inside memory
    /// the run owns (context, packet, map value, global data, BPF stack) on
    /// every path that reaches it, and an atomic is naturally aligned.
    private let safe: [Bool]
    /// Every run ends: no path loops forever.
    public let terminates: Bool
    /// When `terminates`: no run of the program executes more instructions
    /// than this (local calls included; tail-called programs not).
    public let maxInstructions: UInt64
    /// No path reads a register before writing it (other than those the
    /// program type sets at entry: r1, r10, and r2 for `mem`), so an engine
    /// need not clear the others at entry to keep host values from leaking in.
    public let initializesRegistersBeforeUse: Bool
    /// No path reads a byte of the BPF stack (by a load, an atomic, or as a
    /// helper's memory argument) that was not written earlier on that path
    /// in the same frame, so an engine need not clear the stack at entry:
    /// nothing a run could observe depends on what the memory held before.
    public let stackReadsInitialized: Bool
    /// When known: the deepest byte below its frame's r10 that any access of
    /// the stack reaches, in any frame — direct `[r10 + off]` accesses,
    /// accesses through stack pointers, and helpers' memory arguments (a
    /// map's key or value) — and every one of them was proven to lie inside
    /// its frame. nil when a stack pointer goes somewhere the verifier does
    /// not follow (stored to memory, handed to a helper it does not
    /// describe, an access it could not prove).
    public let stackDepth: Int?
    /// Per helper-call slot: what holds on every path that reaches it.
    private let helperCalls: [Int: HelperCallProof]
    /// The longest input (r2 at entry, for program types whose r2 is the
    /// input's length) the facts assume, or nil when they assume nothing of
    /// r2. The verifier starts r2 in `[0, limit]`, so bounds it proves may
    /// rest on it (a loop to the length, an offset derived from r2): every
    /// engine refuses a run whose r2 is larger
    /// (`ExecutionError.inputTooLong`) before any instruction runs.
    public let inputLengthLimit: Int?

    package init(instructions: [Instruction], safeAccesses: [Bool], terminates: Bool, maxInstructions: UInt64,
                 initializesRegistersBeforeUse: Bool, stackReadsInitialized: Bool = false, stackDepth: Int? = nil,
                 helperCalls: [Int: HelperCallProof] = [:], inputLengthLimit: Int? = nil) {
        precondition(safeAccesses.count == instructions.count, "one fact per instruction slot")
        self.instructions = instructions
        self.safe = safeAccesses
        self.terminates = terminates
        self.maxInstructions = terminates ? maxInstructions : .max
        self.initializesRegistersBeforeUse = initializesRegistersBeforeUse
        self.stackReadsInitialized = stackReadsInitialized
        self.stackDepth = stackDepth
        self.helperCalls = helperCalls
        self.inputLengthLimit = inputLengthLimit
    }

    /// What was proven of the helper call at slot `pc` (nil: nothing).
    public func helperCall(at pc: Int) -> HelperCallProof? { helperCalls[pc] }

    /// Helper-call slots with a proof.
    public var provenHelperCalls: Int { helperCalls.count }

    /// Whether these facts were made from exactly `program`'s instructions.
    public func applies(to program: Program) -> Bool { program.instructions == instructions }

    /// Whether the memory access at slot `pc` needs no run-time check.
    public func isSafeAccess(at pc: Int) -> Bool { pc >= 0 && pc < safe.count && safe[pc] }

    /// How many slots hold a proven-safe access.
    public var safeAccessCount: Int { safe.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Whether the runaway guard can be left out for a run budget of `limit`
    /// instructions: the program ends on every path within the budget.
    public func endsWithin(_ limit: UInt64) -> Bool { terminates && maxInstructions <= limit }
}

/// What the verifier proved about one helper call (`call imm` of a helper
/// it describes) on every path that reaches it.
public struct HelperCallProof: Sendable, Hashable {
    /// The map handle r1 holds (one of the program's maps), or nil when r1
    /// is not the same map handle on every path.
    public let mapHandle: UInt64?
    /// Every memory argument the helper reads or writes (per its
    /// description: the key, and for an update the value, of r1's map) lies
    /// with all its bytes inside memory the run owns — the calling frame's
    /// stack, a map value, global data — so the helper needs no bounds
    /// check of them.
    public let memoryArgumentsInBounds: Bool

    package init(mapHandle: UInt64?, memoryArgumentsInBounds: Bool) {
        self.mapHandle = mapHandle
        self.memoryArgumentsInBounds = memoryArgumentsInBounds
    }
}

extension EngineConfiguration {
    /// The longest input (r2 at entry) the proofs an engine applies to
    /// `program` assume (`ProgramProofs.inputLengthLimit`), or nil. An engine
    /// that prepares `program` with this configuration refuses longer inputs
    /// at every run entry.
    public func inputLengthLimit(for program: Program) -> Int? {
        guard let proofs, proofs.applies(to: program) else { return nil }
        return proofs.inputLengthLimit
    }
}

extension ExecutionError {
    /// Throws `inputTooLong` when a run's r2 exceeds `limit` (nil: no limit).
    @inlinable
    public static func checkInputLength(r2: UInt64, limit: Int?) throws(ExecutionError) {
        if let limit, r2 > UInt64(limit) { throw .inputTooLong(length: r2, maximum: limit) }
    }
}
