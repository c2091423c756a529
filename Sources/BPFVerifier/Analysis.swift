import BPFISA
import BPFRuntime

/// Limits that keep verification bounded in time and memory.
public struct VerifierLimits: Sendable, Hashable {
    /// Instruction visits before verification gives up (then nothing is proven).
    public var maxSteps: Int
    /// Visits of the same loop head along one path before the changing
    /// registers are widened to unknown (a loop the ranges cannot bound).
    public var unrollLimit: Int
    /// States kept per pruning point, and in all.
    public var statesPerPoint: Int
    public var maxStoredStates: Int

    public init(maxSteps: Int = 1_000_000, unrollLimit: Int = 4096, statesPerPoint: Int = 64, maxStoredStates: Int = 200_000) {
        self.maxSteps = maxSteps
        self.unrollLimit = unrollLimit
        self.statesPerPoint = statesPerPoint
        self.maxStoredStates = maxStoredStates
    }
}

/// One verification: the program, what the transfer functions found per
/// instruction, and the exploration's bookkeeping.
final class Analysis {
    let program: Program
    let instructions: [Instruction]
    let environment: VerifierEnvironment
    let limits: VerifierLimits

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

    init(program: Program, environment: VerifierEnvironment, limits: VerifierLimits) {
        self.program = program
        self.instructions = program.instructions
        self.environment = environment
        self.limits = limits
        reached = Array(repeating: false, count: program.count)
        unprovenReason = Array(repeating: nil, count: program.count)
    }

    /// The state at entry: r1 the context, r10 the frame, r2 per program type.
    func entryState() -> State {
        var registers = Array(repeating: Value.uninitialized, count: 11)
        switch environment.context {
        case .unknown: registers[1] = .unknown
        case .packetContext: registers[1] = .context(offset: 0)
        }
        if environment.r2IsSetAtEntry { registers[2] = .unknown }
        registers[10] = .stack(offset: 0, variable: .zero)
        return State(pc: 0, frames: [Frame(registers: registers, returnPC: -1)], packetRanges: [:])
    }

    /// Reads register `r` as an operand: flags a read before any write.
    func read(_ state: State, _ r: Register, at pc: Int) -> Value {
        let value = state[r.index]
        if !value.isInitialized {
            if uninitializedRead == nil { uninitializedRead = "instruction \(pc): reads \(r) before writing it" }
            return .unknown
        }
        return value
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
