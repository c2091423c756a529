import BPFISA
import BPFRuntime

/// Limits that keep verification bounded in time and memory.
///
/// Past any of them the verifier gives up: nothing is proven and every
/// engine keeps every check (the program still loads and runs).
public struct VerifierLimits: Sendable, Hashable {
    /// Instruction visits before verification gives up (then nothing is proven).
    public var maxSteps: Int
    /// Visits of the same loop head along one path before the changing
    /// registers are widened to unknown (a loop the ranges cannot bound).
    public var unrollLimit: Int
    /// States kept per pruning point, and in all (past that, states are no
    /// longer kept, so fewer paths are pruned). A kept state holds about
    /// 1 KiB of its own (its frame list and innermost registers; caller
    /// registers are shared), so the default bounds them to about 20 MiB.
    public var statesPerPoint: Int
    public var maxStoredStates: Int
    /// The work budget in cost units: instruction visits, comparisons
    /// with stored states and states stored, each weighted by the state's
    /// call depth (one unit is about the work of one frame's registers).
    /// The default bounds any program to well under a second in a release build.
    public var maxCost: Int

    public init(maxSteps: Int = 1_000_000, unrollLimit: Int = 4352, statesPerPoint: Int = 64, maxStoredStates: Int = 16_384,
                maxCost: Int = 6_000_000) {
        self.maxSteps = maxSteps
        self.unrollLimit = unrollLimit
        self.statesPerPoint = statesPerPoint
        self.maxStoredStates = maxStoredStates
        self.maxCost = maxCost
    }
}

/// One verification: the program, what the transfer functions found per
/// instruction, and the exploration's bookkeeping.
final class Analysis {
    let program: Program
    let instructions: [Instruction]
    let environment: VerifierEnvironment
    let limits: VerifierLimits
    let policy: VerifierPolicy

    /// Per slot: whether an explored state reached the access, and the
    /// first reason it could not be proven on one of them.
    var reached: [Bool]
    var unprovenReason: [String?]
    /// The first read of a register nobody wrote.
    var uninitializedRead: String?
    /// Why termination is not proven, if it is not.
    var terminationProblem: String?
    /// Why verification stopped early, if it did.
    var gaveUp: String?
    var steps = 0
    /// Visits per instruction slot.
    var visits: [Int]
    /// Work charged so far, in `Cost` units, against `limits.maxCost`.
    var cost = 0
    /// The most states kept at pruning points at once.
    var peakStoredStates = 0
    /// Whether stored states are looked up through their index (`StoredStates`)
    /// rather than all compared; the same verdicts either way.
    var indexStoredStates = true
    /// The first read of a stack byte not written before on its path (in its frame).
    var uninitializedStackRead: String?
    /// The first place a stack pointer went where the verifier does not
    /// follow it (then neither stack fact holds).
    var stackEscape: String?
    /// The first stack access (or helper memory argument on the stack) not
    /// proven inside its frame.
    var unprovenStackAccess: String?
    /// The deepest byte below its frame's r10 that a stack access reaches.
    var stackDepth = 0
    /// Per nesting level of callback loops reached (outermost first): the
    /// most iterations one loop at that level runs.
    var callbackLoopBounds: [UInt64] = []
    /// Per callback entry: whether it may reach a helper that moves the packet.
    var callbackMovesPacket: [Int: Bool] = [:]
    lazy var functionEntries: [Int] = program.functionEntries
    /// Per helper-call slot (helpers the environment describes): what held
    /// on every visit so far, and the first reason an argument was not proven.
    var helperProofs: [Int: HelperCallProof] = [:]
    var helperProblems: [Int: String] = [:]
    /// Why the program must not be loaded, if it must not (the first reason found).
    var refusal: String?

    init(program: Program, environment: VerifierEnvironment, limits: VerifierLimits, policy: VerifierPolicy = .privileged) {
        self.program = program
        self.instructions = program.instructions
        self.environment = environment
        self.limits = limits
        self.policy = policy
        reached = Array(repeating: false, count: program.count)
        unprovenReason = Array(repeating: nil, count: program.count)
        visits = Array(repeating: 0, count: program.count)
    }

    /// The input length r2 starts bounded by (`entryState`), which the
    /// proofs then assume of every run (`ProgramProofs.inputLengthLimit`).
    var assumedInputLengthLimit: Int? {
        guard environment.r2IsInputLength, let limit = environment.inputLengthLimit,
              limit >= 0, limit <= LengthBound.maxLength else { return nil }
        return limit
    }

    /// The state at entry: r1 the context, r10 the frame, r2 per program type.
    func entryState() -> State {
        var registers = Array(repeating: Value.uninitialized, count: 11)
        // The context, even one nothing is proven through (accesses check
        // `environment.context`): bpf_tail_call needs to know r1 is it.
        registers[1] = .context(offset: 0)
        if environment.r2IsSetAtEntry { registers[2] = .unknown }
        if environment.r2IsInputLength {
            // The input: a packet whose end is r1 + r2 (`packetEnd`), and r2 its length exactly.
            registers[1] = .packet(id: 0, offset: 0, variable: .zero)
            var length = Scalar.unknown
            if let limit = assumedInputLengthLimit {
                length = Scalar(unsigned: 0, UInt64(limit))
            }
            registers[2] = .scalar(length.bounded(by: LengthBound(slack: 0, exact: true)) ?? .unknown)
        }
        registers[10] = .stack(frame: 0, offset: 0, variable: .zero)
        return State(pc: 0, frames: [Frame(registers: registers, returnPC: -1)], packetRanges: [:])
    }

    /// Reads register `r` as an operand: flags a read before any write.
    /// Unless `flows` is false (the value only leaves the program: r0 at
    /// exit, a helper's number argument), what such a register holds (after
    /// a call, perhaps a stack address) goes on as an unknown number the
    /// verifier does not follow.
    func read(_ state: State, _ r: Register, at pc: Int, flows: Bool = true) -> Value {
        let value = state[r.index]
        if !value.isInitialized {
            if uninitializedRead == nil { uninitializedRead = "instruction \(pc): reads \(r) before writing it" }
            // What it holds may be an address (the kernel's "!read_ok").
            if !policy.allowsPointerLeaks { refuse("instruction \(pc): reads \(r) before writing it") }
            if flows { stackEscapes("instruction \(pc): \(r) is read before it is written (it may hold a stack address)") }
            return .unknown
        }
        return value
    }

    /// The program must not be loaded: `why` names the instruction.
    func refuse(_ why: String) {
        if refusal == nil { refusal = why }
    }

    /// Under a policy without pointer leaks: refuses when `value` is a pointer
    /// (`what` says where it goes).
    func checkNoLeak(_ value: Value, _ what: String, at pc: Int) {
        guard !policy.allowsPointerLeaks, value.isPointer else { return }
        refuse("instruction \(pc): \(what) leaks a pointer (\(value.summary))")
    }

    /// A stack pointer goes where the verifier does not follow it.
    func stackEscapes(_ why: String) {
        if stackEscape == nil { stackEscape = why }
    }

    /// The stack side of one access of `size` bytes (nil: unknown) at
    /// `base + offset` when `base` is a stack pointer: the depth it reaches,
    /// for a read that every byte may touch was written on this path, and
    /// for a write at a constant offset that its bytes are now written.
    func touchStack(_ state: inout State, base: Value, offset: Int, size: Int?, read: Bool, write: Bool, at pc: Int) {
        guard case .stack(let frame, let off, let v) = base else { return }
        let frameSize = ExecutionLimits.stackSizePerFrame
        guard let size, size < frameSize * 2 else {
            if unprovenStackAccess == nil { unprovenStackAccess = "instruction \(pc): a stack access of unknown size" }
            if read, uninitializedStackRead == nil {
                uninitializedStackRead = "instruction \(pc): uninitialized stack read at pc \(pc) (a read of unknown size)"
            }
            return
        }
        let low = off + offset + v.low, high = off + offset + v.high + size
        let inside = low >= -frameSize && high <= 0
        if inside {
            stackDepth = max(stackDepth, -low)
        } else if unprovenStackAccess == nil {
            unprovenStackAccess = "instruction \(pc): a stack access at frame offsets [\(low), \(high)) is not inside its frame"
        }
        let live = frame < state.depth
        if read, uninitializedStackRead == nil {
            if !live {
                uninitializedStackRead = "instruction \(pc): uninitialized stack read at pc \(pc) (through a pointer into a frame that has returned)"
            } else if let missing = state.frames[frame].stack.firstMissing(low, high) {
                uninitializedStackRead = "instruction \(pc): uninitialized stack read at pc \(pc): byte \(missing) of frame \(frame) may be read before it is written"
            }
        }
        if write, live, inside, v == .zero { state.frames[frame].stack.insert(low, high) }
    }


    /// Records the outcome of one access on one explored state.
    func record(access pc: Int, problem: String?) {
        reached[pc] = true
        if let problem, unprovenReason[pc] == nil { unprovenReason[pc] = problem }
    }

    func stopTermination(_ why: String) {
        if terminationProblem == nil { terminationProblem = why }
    }
}
