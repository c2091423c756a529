import BPFISA
import BPFRuntime

/// What a backend may take from a verifier's `ProgramProofs` for one
/// compile: nothing unless the proofs were made from exactly this program.
///
/// - `isSafeAccess(at:)`: the load, store or atomic at that slot is emitted
///   without a bounds check, exactly as `MemoryChecking.unchecked` emits it;
/// - `unguarded`: every run ends within the run budget, so backward jumps
///   and local calls are not charged to the runaway guard. Only for a
///   program that makes no tail calls: the budget is one per run, shared
///   along a chain of tail calls, and a program's own bound says nothing
///   about the programs it enters; so every program that tail-calls keeps
///   charging the budget, and a guard-free program (a chain's last) can add
///   at most its own bound to it;
/// - `registersInitialized`: no path reads a register before writing it, so
///   the entry prologue need not clear r0 and r3–r9;
/// - `stackReadsInitialized`: no path reads a stack byte it did not write
///   in the same frame, so the entry prologue need not clear the stack, and
///   nothing a run sees depends on where its frames lie (`JITFramePlan`);
/// - `stackDepth`: the deepest byte below its frame's r10 that any access
///   of the stack reaches (helpers' memory arguments included), all proven
///   inside their frame: a frame of that many bytes holds everything.
///
/// Proofs only remove checks: with `nil` (no proofs, or proofs of another
/// program) every property is false and the code is what it was without.
public struct JITProofs: Sendable {
    @usableFromInline let proofs: ProgramProofs?
    /// No run executes more instructions than the budget: no runaway guard.
    public let unguarded: Bool
    /// Registers are written before they are read: no clearing at entry.
    public let registersInitialized: Bool
    /// No stack byte is read before it was written in its frame: no stack clearing at entry.
    public let stackReadsInitialized: Bool
    /// When known: the deepest byte below r10 any stack access reaches, in any frame.
    public let stackDepth: Int?
    /// For code compiled from a rewritten program (`JITBlinding`): the
    /// original slot of each rewritten slot, which the proofs are about.
    @usableFromInline var origin: [Int]? = nil

    /// No proofs at all.
    public static let none = JITProofs(nil, program: Program([]), instructionLimit: 0)

    /// The usable part of `proofs` for `program` run with a budget of
    /// `instructionLimit`; `tailCalls`: the program arrays its `call 12`
    /// tail-calls through, if any.
    public init(_ proofs: ProgramProofs?, program: Program, instructionLimit: UInt64, tailCalls: TailCallEnvironment? = nil) {
        guard let proofs, proofs.applies(to: program) else {
            self.proofs = nil
            unguarded = false
            registersInitialized = false
            stackReadsInitialized = false
            stackDepth = nil
            return
        }
        self.proofs = proofs
        let tailCalls = tailCalls != nil && TailCallEnvironment.callsTail(program)
        unguarded = proofs.endsWithin(instructionLimit) && !tailCalls
        registersInitialized = proofs.initializesRegistersBeforeUse
        stackReadsInitialized = proofs.stackReadsInitialized
        // A claim beyond one frame cannot be right (the verifier proves stack
        // accesses inside [-512, 0) of their frame): ignore it.
        stackDepth = proofs.stackDepth.flatMap { $0 >= 0 && $0 <= JITStackSizing.frameBytes ? $0 : nil }
    }

    /// Whether the access at slot `pc` was proven to stay inside memory the run owns.
    @inlinable
    public func isSafeAccess(at pc: Int) -> Bool {
        guard let proofs else { return false }
        if let origin { return pc < origin.count && proofs.isSafeAccess(at: origin[pc]) }
        return proofs.isSafeAccess(at: pc)
    }

    /// The same proofs asked about the slots of `blinding.program`. Blinding
    /// keeps every proven property: loads, stores and calls keep their
    /// operands' values, the stack accesses are the same, and `ax` is
    /// written before every read.
    public func blinded(_ blinding: JITBlinding) -> JITProofs {
        var copy = self
        copy.origin = blinding.origin
        return copy
    }

    /// Whether the load, store or atomic `instruction` at `pc` needs no
    /// check by the proofs. A direct `[r10 + offset]` never does by them:
    /// inside the frame it needs no check anyway, and outside it no proof
    /// can be right (the verifier proves stack accesses in [-512, 0) of
    /// their frame only), so it stays checked whatever the proofs say.
    @inline(__always)
    public func provesSafe(_ instruction: Instruction, at pc: Int) -> Bool {
        isSafeAccess(at: pc) && instruction.accessBase != .r10
    }

    /// What was proven of the helper call at slot `pc`, if anything.
    public func helperCall(at pc: Int) -> HelperCallProof? {
        guard let origin else { return proofs?.helperCall(at: pc) }
        return pc < origin.count ? proofs?.helperCall(at: origin[pc]) : nil
    }

    /// What the runaway guard charges a backward jump from slot `pc` to
    /// `target`: the slots it spans, counted in the program as loaded (a
    /// rewritten program, `JITBlinding`, must not spend the budget faster
    /// than the original would).
    @inlinable
    public func guardCharge(from pc: Int, to target: Int) -> Int {
        guard let origin, pc < origin.count, target < origin.count else { return pc - target + 1 }
        return origin[pc] - origin[target] + 1
    }

    /// Whether any proof applies.
    public var applies: Bool { proofs != nil }
}

extension Instruction {
    /// The base register of a load, store or atomic; nil for other instructions.
    public var accessBase: Register? {
        switch self {
        case .load(_, _, let base, _), .loadSignExtend(_, _, let base, _), .store(_, let base, _, _),
             .storeImmediate(_, let base, _, _), .atomic(_, _, let base, _, _):
            base
        default:
            nil
        }
    }
}
