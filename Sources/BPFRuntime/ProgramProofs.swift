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

    package init(instructions: [Instruction], safeAccesses: [Bool], terminates: Bool, maxInstructions: UInt64,
                 initializesRegistersBeforeUse: Bool) {
        precondition(safeAccesses.count == instructions.count, "one fact per instruction slot")
        self.instructions = instructions
        self.safe = safeAccesses
        self.terminates = terminates
        self.maxInstructions = terminates ? maxInstructions : .max
        self.initializesRegistersBeforeUse = initializesRegistersBeforeUse
    }

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
