import BPFISA
import BPFRuntime

/// BPFKit's verifier: proves what it can about a loaded program (after the
/// loader's rewrites) so that engines may leave out run-time checks.
///
/// What it cannot prove stays checked at run time. It refuses a program
/// (`VerificationReport.refusal`) only for what no run-time check covers:
/// a tail call with another context, an unreleased reference, a stack
/// pointer outliving its frame, a write into a read-only map by a helper,
/// and under `VerifierPolicy.unprivileged` any pointer leak. See
/// docs/ARCHITECTURE.md ("The verifier") for the abstract domain, the
/// exploration and the soundness argument.
public enum Verifier {
    /// Verifies `program` in `environment` under `policy`.
    public static func verify(_ program: Program, environment: VerifierEnvironment,
                              limits: VerifierLimits = VerifierLimits(), policy: VerifierPolicy = .privileged) -> VerificationReport {
        verify(program, environment: environment, limits: limits, policy: policy, indexStoredStates: true)
    }

    /// `indexStoredStates: false` compares a state with every stored state
    /// at its pc (tests check the index finds the same prunes).
    static func verify(_ program: Program, environment: VerifierEnvironment, limits: VerifierLimits,
                       policy: VerifierPolicy = .privileged, indexStoredStates: Bool) -> VerificationReport {
        let clock = ContinuousClock()
        let start = clock.now
        let analysis = Analysis(program: program, environment: environment, limits: limits, policy: policy)
        analysis.indexStoredStates = indexStoredStates
        do {
            try program.validate()
            analysis.explore()
        } catch {
            analysis.gaveUp = "the program is malformed: \(error)"
        }
        return VerificationReport(analysis, duration: clock.now - start)
    }

    /// The report of a program left unverified: nothing proven.
    public static func unverified(_ program: Program) -> VerificationReport {
        let analysis = Analysis(program: program, environment: VerifierEnvironment(), limits: VerifierLimits())
        analysis.gaveUp = "not verified"
        return VerificationReport(analysis, duration: .zero)
    }
}

/// What one verification found.
public struct VerificationReport: Sendable {
    /// One load, store or atomic that keeps its run-time check.
    public struct UnprovenAccess: Sendable, Hashable {
        public let pc: Int
        public let reason: String
    }

    /// The facts engines use.
    public let proofs: ProgramProofs
    /// Loads, stores and atomics in the program.
    public let accessCount: Int
    /// Those the verifier could not prove, with a reason each, by slot.
    public let unproven: [UnprovenAccess]
    /// Instruction visits of the exploration.
    public let steps: Int
    /// Visits per instruction slot (they sum to `steps`): where the
    /// exploration spent its work.
    public let visits: [Int]
    /// The exploration's work in cost units (`VerifierLimits.maxCost`).
    public let cost: Int
    /// The most states kept at pruning points at once.
    public let peakStoredStates: Int
    public let duration: Duration
    /// Why verification stopped early (then nothing is proven).
    public let gaveUp: String?
    /// Why the program must not be loaded, naming the instruction (then nothing is proven).
    public let refusal: String?
    /// Why termination is not proven, when it is not.
    public let terminationProblem: String?
    /// The first read of a register before any write, if any.
    public let uninitializedRead: String?
    /// Why `proofs.stackReadsInitialized` does not hold, when it does not.
    public let stackReadProblem: String?
    /// Why `proofs.stackDepth` is not known, when it is not.
    public let stackDepthProblem: String?
    /// Per helper-call slot whose memory arguments were not proven in bounds: the first reason.
    public let helperCallProblems: [Int: String]
    /// Helper calls with a proof (calls of described helpers that were reached).
    public var helperCallCount: Int { proofs.provenHelperCalls }
    /// Those whose memory arguments were proven in bounds on every path.
    public let helperCallsInBounds: Int

    public var provenAccessCount: Int { proofs.safeAccessCount }
    /// Whether everything was proven: every access, termination, initialization.
    public var provesEverything: Bool {
        unproven.isEmpty && proofs.terminates && proofs.initializesRegistersBeforeUse
    }

    init(_ analysis: Analysis, duration: Duration) {
        let instructions = analysis.instructions
        var safe = Array(repeating: false, count: instructions.count)
        var unproven: [UnprovenAccess] = []
        var accesses = 0
        let complete = analysis.gaveUp == nil && analysis.refusal == nil
        for (pc, instruction) in instructions.enumerated() {
            switch instruction {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                accesses += 1
                if !complete {
                    unproven.append(UnprovenAccess(pc: pc, reason: "instruction \(pc): \(analysis.refusal == nil ? "not verified" : "refused")"))
                } else if let reason = analysis.unprovenReason[pc] {
                    unproven.append(UnprovenAccess(pc: pc, reason: reason))
                } else if !analysis.reached[pc] {
                    unproven.append(UnprovenAccess(pc: pc, reason: "instruction \(pc): never reached (left checked)"))
                } else {
                    safe[pc] = true
                }
            default:
                break
            }
        }
        let terminates = complete && analysis.terminationProblem == nil
        // Both stack facts need every stack pointer followed: one that
        // escapes may be read or written through where the verifier cannot see.
        let readProblem = analysis.refusal ?? analysis.gaveUp ?? analysis.stackEscape ?? analysis.uninitializedStackRead
        let depthProblem = analysis.refusal ?? analysis.gaveUp ?? analysis.stackEscape ?? analysis.unprovenStackAccess
        let helperCalls = complete ? analysis.helperProofs : [:]
        proofs = ProgramProofs(instructions: instructions, safeAccesses: safe, terminates: terminates,
                               maxInstructions: Self.instructionBound(steps: analysis.steps, loops: analysis.callbackLoopBounds),
                               initializesRegistersBeforeUse: complete && analysis.uninitializedRead == nil,
                               stackReadsInitialized: readProblem == nil,
                               stackDepth: depthProblem == nil ? analysis.stackDepth : nil,
                               helperCalls: helperCalls,
                               inputLengthLimit: analysis.assumedInputLengthLimit)
        stackReadProblem = readProblem
        stackDepthProblem = depthProblem
        helperCallProblems = complete ? analysis.helperProblems.filter { helperCalls[$0.key]?.memoryArgumentsInBounds == false } : [:]
        helperCallsInBounds = helperCalls.values.filter(\.memoryArgumentsInBounds).count
        accessCount = accesses
        self.unproven = unproven
        steps = analysis.steps
        visits = analysis.visits
        cost = analysis.cost
        peakStoredStates = analysis.peakStoredStates
        self.duration = duration
        gaveUp = analysis.gaveUp
        refusal = analysis.refusal
        terminationProblem = complete ? analysis.terminationProblem : analysis.refusal ?? analysis.gaveUp
        uninitializedRead = analysis.uninitializedRead
    }

    /// A bound on the instructions a run executes: the visits, times the
    /// iterations of each level of callback loops (each iteration runs at
    /// most the visited instructions and the loop's own dozen), saturating.
    static func instructionBound(steps: Int, loops: [UInt64]) -> UInt64 {
        var bound = UInt64(steps)
        for iterations in loops {
            let (perIteration, o1) = bound.addingReportingOverflow(16)
            let (total, o2) = perIteration.multipliedReportingOverflow(by: iterations)
            if o1 || o2 { return .max }
            bound = total
        }
        return bound
    }

    /// One line: accesses proven, termination, registers, the stack facts, helper calls, steps, time.
    public var summary: String {
        if let refusal { return "refused: \(refusal)" }
        let ends = proofs.terminates ? "yes, within \(proofs.maxInstructions) instructions" : "not proven"
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        let ms = "\(micros / 1000).\(String(micros % 1000 / 10).count == 1 ? "0" : "")\(micros % 1000 / 10)"
        let depth = proofs.stackDepth.map(String.init) ?? "unknown"
        return "accesses proven \(provenAccessCount) of \(accessCount); terminates: \(ends); registers written before read: \(proofs.initializesRegistersBeforeUse ? "yes" : "not proven"); stack reads initialized: \(proofs.stackReadsInitialized ? "yes" : "not proven"); stack depth: \(depth); helper calls proven: \(helperCallsInBounds) of \(helperCallCount); \(steps) steps, \(ms) ms"
    }

    /// The summary, then every reason something was not proven.
    public var log: [String] {
        var lines: [String] = []
        if let refusal { return [refusal] }
        if let gaveUp { lines.append(gaveUp) }
        lines += unproven.map(\.reason)
        if gaveUp == nil, let terminationProblem { lines.append(terminationProblem) }
        if let uninitializedRead { lines.append(uninitializedRead) }
        if gaveUp == nil {
            if let stackReadProblem { lines.append(stackReadProblem) }
            if let stackDepthProblem, stackDepthProblem != stackReadProblem { lines.append(stackDepthProblem) }
            lines += helperCallProblems.sorted { $0.key < $1.key }.map(\.value)
        }
        return lines
    }
}
