import BPFISA
import BPFRuntime

/// What a backend may take from a verifier's `ProgramProofs` for one
/// compile: the one place where the JITs' facts are derived from the
/// proofs, and where each fact is checked against the program before it can
/// remove anything. Both backends build their code from this and nothing
/// else of the proofs.
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
///   inside their frame: a frame of that many bytes holds everything;
/// - `helperCall(at:)`: a helper call's map and memory arguments, proven.
///
/// *Defence in depth.* A wrong proof is a host memory-safety hole, so what
/// can be checked cheaply against the program is checked here, and a fact
/// that fails its check is dropped (the check, clear or guard stays) and
/// recorded in `refusals`:
///
/// - proofs of other instructions (`ProgramProofs.applies(to:)`): nothing applies;
/// - a "safe" flag on a slot that is no load, store or atomic, or on a
///   direct `[r10 + offset]` (inside the frame it needs no proof; outside it
///   no proof can be right, and that is recorded): ignored;
/// - a stack depth outside one frame, [0, 512]: ignored;
/// - `stackReadsInitialized` for a program whose r10 never escapes, where a
///   must-write dataflow over its direct stack accesses decides the claim
///   exactly (`JITStackInitialization`): kept only if that agrees;
/// - `registersInitialized`: kept only if a must-write dataflow over the
///   registers (r1, r2 and r10 set at entry; a call writes r0, and a local
///   call's callee starts with its caller's registers) finds no read of an
///   unwritten register;
/// - a helper-call proof on a slot that is no `call` of a helper, or whose
///   map handle is no 64-bit constant the program loads: ignored.
///
/// Proofs only remove checks: with `nil` (no proofs, or proofs of another
/// program) every property is false and the code is what it was without.
public struct JITProofs: Sendable {
    /// Per slot: the access there needs no run-time check (validated).
    @usableFromInline let safe: [Bool]
    /// Helper-call proofs by slot (validated).
    let helperCalls: [Int: HelperCallProof]
    /// No run executes more instructions than the budget: no runaway guard.
    public let unguarded: Bool
    /// Registers are written before they are read: no clearing at entry.
    public let registersInitialized: Bool
    /// No stack byte is read before it was written in its frame: no stack clearing at entry.
    public let stackReadsInitialized: Bool
    /// When known: the deepest byte below r10 any stack access reaches, in any frame.
    public let stackDepth: Int?
    /// Whether any proof applies.
    public let applies: Bool
    /// The facts of the proofs that were checked against the program and
    /// dropped, in slot order (empty when all were kept or none applied).
    public let refusals: [Refusal]

    /// A fact `JITProofs` would not act on, and why.
    public enum Refusal: Sendable, Hashable, CustomStringConvertible {
        /// The proofs were made from other instructions.
        case otherProgram
        /// A "safe" flag on a slot holding no load, store or atomic.
        case safeFlagOnNonAccess(pc: Int)
        /// A "safe" flag on a direct `[r10 + offset]` outside the frame, which never counts.
        case safeFlagOnDirectStackAccess(pc: Int)
        /// A stack depth outside [0, 512].
        case stackDepthOutOfRange(Int)
        /// "Stack reads initialized", contradicted by the program's direct stack accesses.
        case stackReadsNotInitialized
        /// "Registers initialized", contradicted: a path reads the register at the slot before writing it.
        case registerReadBeforeWrite(pc: Int, register: Register)
        /// A helper-call proof on a slot holding no helper call.
        case helperProofOnNonHelperCall(pc: Int)
        /// A helper-call proof naming a map handle the program never loads.
        case helperProofUnknownMap(pc: Int, handle: UInt64)

        public var description: String {
            switch self {
            case .otherProgram: "the proofs are of other instructions"
            case .safeFlagOnNonAccess(let pc): "slot \(pc): a safe-access proof on no memory access"
            case .safeFlagOnDirectStackAccess(let pc): "slot \(pc): a safe-access proof on a direct r10 access"
            case .stackDepthOutOfRange(let depth): "a stack depth of \(depth) bytes, outside one frame"
            case .stackReadsNotInitialized: "stack reads initialized, but a path reads a stack byte it never wrote"
            case .registerReadBeforeWrite(let pc, let register): "slot \(pc): \(register) may be read before it is written"
            case .helperProofOnNonHelperCall(let pc): "slot \(pc): a helper-call proof on no helper call"
            case .helperProofUnknownMap(let pc, let handle):
                "slot \(pc): a helper-call proof for map handle 0x\(String(handle, radix: 16)), which the program never loads"
            }
        }
    }
    /// For code compiled from a rewritten program (`JITBlinding`): the
    /// original slot of each rewritten slot, which the proofs are about.
    @usableFromInline var origin: [Int]? = nil
    /// `JITStackInitialization.readsWritten` of the program at its
    /// `jitFunctionEntries`, where checking the claim above worked it out
    /// (nil otherwise, and for a blinded program): the frame plan asks the
    /// same question of the same program (`JITFramePlan`).
    public private(set) var stackReadsWritten: Bool? = nil

    /// No proofs at all.
    public static let none = JITProofs(nil, program: Program([]), instructionLimit: 0)

    /// The usable part of `proofs` for `program` run with a budget of
    /// `instructionLimit`; `tailCalls`: the program arrays its `call 12`
    /// tail-calls through, if any.
    public init(_ proofs: ProgramProofs?, program: Program, instructionLimit: UInt64, tailCalls: TailCallEnvironment? = nil) {
        guard let proofs, proofs.applies(to: program) else {
            safe = []
            helperCalls = [:]
            unguarded = false
            registersInitialized = false
            stackReadsInitialized = false
            stackDepth = nil
            applies = false
            refusals = proofs == nil ? [] : [.otherProgram]
            return
        }
        applies = true
        var refusals: [Refusal] = []
        let instructions = program.instructions
        var safe = [Bool](repeating: false, count: instructions.count)
        var loaded = Set<UInt64>()     // 64-bit constants the program loads (map handles among them)
        var helperCalls: [Int: HelperCallProof] = [:]
        var stack = JITStackUse()      // whether r10 escapes does not depend on proofs
        for (pc, instruction) in instructions.enumerated() {
            stack.note(instruction, at: pc, names: instruction.namedRegisters, proofs: .none)
            switch instruction {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                guard proofs.isSafeAccess(at: pc) else { break }
                if instruction.accessBase != .r10 {
                    safe[pc] = true
                } else if JITStackSizing.needsCheck(instruction) {
                    refusals.append(.safeFlagOnDirectStackAccess(pc: pc))   // outside the frame: no proof can be right
                }
            case .loadImmediate64(_, .value(let constant)):
                loaded.insert(constant)
            default:
                if proofs.isSafeAccess(at: pc) { refusals.append(.safeFlagOnNonAccess(pc: pc)) }
            }
        }
        for pc in instructions.indices {
            guard let proof = proofs.helperCall(at: pc) else { continue }
            guard case .call(.helper) = instructions[pc] else {
                refusals.append(.helperProofOnNonHelperCall(pc: pc))
                continue
            }
            if let handle = proof.mapHandle, !loaded.contains(handle) {
                refusals.append(.helperProofUnknownMap(pc: pc, handle: handle))
                continue
            }
            helperCalls[pc] = proof
        }
        let tailCalls = tailCalls != nil && TailCallEnvironment.callsTail(program)
        unguarded = proofs.endsWithin(instructionLimit) && !tailCalls
        let entries = program.jitFunctionEntries
        if proofs.initializesRegistersBeforeUse, let (pc, register) = JITRegisterInitialization.firstUnwrittenRead(program) {
            refusals.append(.registerReadBeforeWrite(pc: pc, register: register))
            registersInitialized = false
        } else {
            registersInitialized = proofs.initializesRegistersBeforeUse
        }
        // Decidable exactly when r10 never escapes: every stack access is then direct.
        if proofs.stackReadsInitialized, stack.usesFramePointer, !stack.escapes {
            let written = JITStackInitialization.readsWritten(program, entries: entries)
            stackReadsWritten = written
            if !written { refusals.append(.stackReadsNotInitialized) }
            stackReadsInitialized = written
        } else {
            stackReadsInitialized = proofs.stackReadsInitialized
        }
        // A claim beyond one frame cannot be right (the verifier proves stack
        // accesses inside [-512, 0) of their frame): ignore it.
        if let depth = proofs.stackDepth, depth < 0 || depth > JITStackSizing.frameBytes {
            refusals.append(.stackDepthOutOfRange(depth))
            stackDepth = nil
        } else {
            stackDepth = proofs.stackDepth
        }
        self.safe = safe
        self.helperCalls = helperCalls
        self.refusals = refusals
    }

    /// Whether every helper's memory arguments were proven to lie inside
    /// their frames: the verifier gives a stack depth only when every stack
    /// access, helpers' memory arguments included, was proven inside its
    /// frame. Without it a helper may be handed a stack pointer beyond its
    /// frame, which the interpreter's eight fixed frames admit, so the stack
    /// must keep all of them.
    public var helperArgumentsStayInFrames: Bool { applies && stackDepth != nil }

    /// Whether the access at slot `pc` was proven to stay inside memory the run owns.
    @inlinable
    public func isSafeAccess(at pc: Int) -> Bool {
        let slot = origin.map { pc >= 0 && pc < $0.count ? $0[pc] : -1 } ?? pc
        return slot >= 0 && slot < safe.count && safe[slot]
    }

    /// The same proofs asked about the slots of `blinding.program`. Blinding
    /// keeps every proven property: loads, stores and calls keep their
    /// operands' values, the stack accesses are the same, and `ax` is
    /// written before every read.
    public func blinded(_ blinding: JITBlinding) -> JITProofs {
        var copy = self
        copy.origin = blinding.origin
        copy.stackReadsWritten = nil   // about the original program, not the blinded one
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
        guard let origin else { return helperCalls[pc] }
        return pc >= 0 && pc < origin.count ? helperCalls[origin[pc]] : nil
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
}

/// Whether some path reads a register before writing it: a forward
/// must-write dataflow over the registers, one bit each. The entry function
/// starts with r1, r2 (the host's arguments) and r10 written; a local call
/// carries its caller's registers into the callee and, on return, adds r0;
/// a helper call adds r0 (it reads only the arguments its prototype
/// declares, which this analysis does not know, so it counts as reading
/// none); `exit` reads r0.
public enum JITRegisterInitialization {
    /// The first slot (in the order found) that may read a register never
    /// written on some path to it, and the register; nil when there is none
    /// or the program is too large to analyse (`JITStackInitialization.maxSlots`:
    /// then the claim is trusted, as before this check existed).
    public static func firstUnwrittenRead(_ program: Program) -> (Int, Register)? {
        let instructions = program.instructions
        guard instructions.count <= JITStackInitialization.maxSlots, !instructions.isEmpty else { return nil }
        let count = instructions.count
        // Per slot, worked out on its first visit: the registers it reads
        // and writes, and its successors (a slot may be visited many times).
        var use = [UInt16](repeating: 0, count: count)
        var def = [UInt16](repeating: 0, count: count)
        var callee = [Int32](repeating: -1, count: count)      // a local call's target
        var first = [Int32](repeating: -1, count: count)
        var second = [Int32](repeating: -1, count: count)
        var known = [Bool](repeating: false, count: count)
        let unreached: UInt32 = 1 << 16
        var written = [UInt32](repeating: unreached, count: count)   // a UInt16 state, or unreached
        written[0] = 1 << 1 | 1 << 2 | 1 << 10
        var work = [0]
        work.reserveCapacity(count)
        func flow(_ state: UInt16, to next: Int) {
            guard next >= 0, next < count else { return }
            let old = written[next]
            let merged = old == unreached ? UInt32(state) : old & UInt32(state)
            if merged != old {
                written[next] = merged
                work.append(next)
            }
        }
        while let pc = work.popLast() {
            guard written[pc] != unreached else { continue }
            let state = UInt16(written[pc])
            if !known[pc] {
                known[pc] = true
                let instruction = instructions[pc]
                var (reads, writes) = ArgumentLiveness.effects(instruction)
                switch instruction {
                case .call(.helper), .call(.kfunc): reads = 0
                case .call(.register(let register)): reads = 1 << register.rawValue
                case .call(.local): reads = 0
                case .exit: reads = 1
                default: break
                }
                use[pc] = reads
                def[pc] = writes
                if case .call(.local) = instruction, let target = instruction.target(at: pc) { callee[pc] = Int32(target) }
                var k = 0
                for next in instruction.jitSuccessors(at: pc) {
                    if k == 0 { first[pc] = Int32(clamping: next) } else { second[pc] = Int32(clamping: next) }
                    k += 1
                }
            }
            let missing = use[pc] & ~state & 0x7ff
            if missing != 0 {
                return (pc, Register(rawValue: UInt8(missing.trailingZeroBitCount))!)
            }
            if callee[pc] >= 0 { flow(state, to: Int(callee[pc])) }
            if first[pc] >= 0 { flow(state | def[pc], to: Int(first[pc])) }
            if second[pc] >= 0 { flow(state | def[pc], to: Int(second[pc])) }
        }
        return nil
    }
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
