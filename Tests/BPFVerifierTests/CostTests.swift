import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
@testable import BPFVerifier
import Foundation
import Testing

/// Verification work is bounded by a budget in the verifier's own cost
/// units (`VerifierLimits.maxCost`), whatever the program: programs built
/// to be as costly as their size allows (`VerifierCostAttacks`) verify or
/// give up within it, giving up proves nothing (every engine keeps every
/// check), and the stored-state index prunes exactly as comparing every
/// stored state does. Time is measured by `BPFVerifierBench`, not here.
struct CostTests {
    /// The most one instruction visit can charge past the budget before
    /// the check after it: comparisons with every state kept at a point,
    /// probes, the store and the ancestor walk, at eight frames.
    static func overshoot(_ limits: VerifierLimits) -> Int {
        limits.statesPerPoint * 8 * 3 + 256 / Cost.ancestorsPerUnit + 64
    }

    static func verify(_ instructions: [Instruction], limits: VerifierLimits = VerifierLimits(),
                       indexed: Bool = true) -> VerificationReport {
        Verifier.verify(Program(instructions, name: "attack"), environment: VerifierEnvironment(), limits: limits,
                        indexStoredStates: indexed)
    }

    /// Gave up cleanly, or verified; either way within the budget.
    static func expectBounded(_ report: VerificationReport, _ limits: VerifierLimits, _ name: String) {
        #expect(report.cost <= limits.maxCost + overshoot(limits), "\(name): \(report.cost) units")
        #expect(report.steps <= limits.maxSteps + 1, "\(name)")
        #expect(report.peakStoredStates <= limits.maxStoredStates, "\(name)")
        if let gaveUp = report.gaveUp {
            #expect(gaveUp.contains("gave up"), "\(name): \(gaveUp)")
            #expect(report.proofs.safeAccessCount == 0 && !report.proofs.terminates, "\(name)")
            #expect(!report.proofs.stackReadsInitialized && report.proofs.stackDepth == nil, "\(name)")
            #expect(!report.proofs.initializesRegistersBeforeUse && report.proofs.provenHelperCalls == 0, "\(name)")
        }
    }

    /// Seven nested local calls, then a loop of 200 pruning points counting
    /// to 10,000: every pass stores a new eight-frame state at every point.
    /// Unbounded by cost it takes 828 K visits, each compared with up to 64
    /// stored states. A budget stops it (a tenth of the default here, to keep
    /// the test quick in a debug build).
    @Test func nestedCallsAndALoopOfPruningPointsGiveUpWithinTheBudget() {
        let limits = VerifierLimits(maxCost: VerifierLimits().maxCost / 10)
        let program = VerifierCostAttacks.nestedCallLoop(calls: 7, points: 200)
        #expect(program.count <= 221)
        let report = Self.verify(program, limits: limits)
        Self.expectBounded(report, limits, "nested call loop")
        #expect(report.gaveUp?.contains("work budget") == true, "\(report.gaveUp ?? "verified")")
        #expect(report.steps < 828_000)
    }

    /// Every shape at the largest program size, against a smaller budget
    /// (the default budget's time is `BPFVerifierBench`'s to measure).
    @Test(arguments: [221, 4_096])
    func everyShapeFinishesWithinItsBudget(size: Int) {
        let limits = VerifierLimits(maxCost: 100_000)
        var gaveUp = 0
        for attack in VerifierCostAttacks.shapes(size: size) {
            #expect(attack.instructions.count <= max(size, 700), "\(attack.name)")
            let report = Self.verify(attack.instructions, limits: limits)
            Self.expectBounded(report, limits, attack.name)
            if report.gaveUp != nil { gaveUp += 1 }
        }
        #expect(gaveUp >= 5, "most shapes are built to exceed any budget")
    }

    /// A small program that verifies well within the budget keeps every proof.
    @Test func aCheapProgramVerifies() {
        let program = VerifierCostAttacks.loopChain(calls: 2, count: 3, points: 4, iterations: 20)
        let report = Self.verify(program)
        #expect(report.gaveUp == nil)
        #expect(report.proofs.terminates && report.cost > report.steps)
        // The budget counts: one unit less than the work done gives up.
        let tight = Self.verify(program, limits: VerifierLimits(maxCost: report.cost - 1))
        #expect(tight.gaveUp?.contains("work budget") == true)
    }

    /// The index compares a state only with stored states whose call chain
    /// and constants match; that must prune exactly where comparing all of
    /// them does: same visits, same proofs, same reasons, for the attack
    /// shapes and for random XDP programs (which mix pointers, ranges and
    /// constants at their join points).
    @Test func theIndexPrunesAsComparingEveryStoredStateDoes() throws {
        // Bounded by visits alone, which both ways count alike (cost does not).
        var compared = 0
        func same(_ program: Program, _ environment: VerifierEnvironment, _ name: String, steps: Int = 20_000) {
            let limits = VerifierLimits(maxSteps: steps, unrollLimit: 40, maxCost: .max)
            let indexed = Verifier.verify(program, environment: environment, limits: limits, indexStoredStates: true)
            let linear = Verifier.verify(program, environment: environment, limits: limits, indexStoredStates: false)
            #expect(indexed.steps == linear.steps, "\(name)")
            #expect(indexed.proofs == linear.proofs, "\(name)")
            #expect(indexed.log == linear.log, "\(name)")
            compared += 1
        }
        for attack in VerifierCostAttacks.shapes(size: 221) {
            same(Program(attack.instructions, name: "attack"), VerifierEnvironment(), attack.name, steps: 4_000)
        }
        let map = try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 64, maxEntries: 4))
        for seed in UInt64(0)..<100 {
            var generator = RandomProgram(seed: seed)
            guard let linked = try? LinkedProgram(program: generator.generate(), type: ProgramTypes.xdp, maps: [map],
                                                  options: LoadOptions(verifierLimits: nil)) else { continue }
            let environment = VerifierEnvironment.forProgram(type: ProgramTypes.xdp, maps: [map], kernelHelpers: [])
            same(linked.program, environment, "random program \(seed)")
        }
        #expect(compared > 60)
    }

    /// A program the verifier gives up on loads and runs with every check:
    /// no proofs reach the engines, and it returns what it computes.
    @Test func givingUpKeepsEveryCheck() throws {
        // The nested loop, with a packet read after it that would be proven.
        var body: [Instruction] = [XDP.data(.r2), XDP.dataEnd(.r3),
                                   .alu(.w64, .mov, dst: .r4, .register(.r2)),
                                   .alu(.w64, .add, dst: .r4, .immediate(1)),
                                   .branch(.w64, .gt, dst: .r4, .register(.r3), offset: 1),
                                   .load(.byte, dst: .r7, src: .r2, offset: 0)]
        body += VerifierCostAttacks.nestedCallLoop(calls: 0, points: 20, iterations: 300).dropLast(2)
        body += [.alu(.w64, .mov, dst: .r0, .register(.r6)), .exit]
        let program = Program(body, name: "costly")
        for (limits, gives) in [(VerifierLimits(maxCost: 2_000), true), (VerifierLimits(), false)] {
            let linked = try LinkedProgram(program: program, type: ProgramTypes.xdp, maps: [],
                                           options: LoadOptions(verifierLimits: limits))
            #expect((linked.verification.gaveUp != nil) == gives, "\(linked.verification.log)")
            let configuration = linked.engineConfiguration()
            #expect((configuration.proofs == nil) == gives)
            if !gives { #expect(linked.verification.provesEverything && linked.proofs.safeAccessCount == 3) }
            let prepared = try Interpreter().prepare(linked.program, configuration: configuration)
            let run = try linked.makeRun(input: [UInt8](repeating: 7, count: 64))
            let result = try withExtendedLifetime(run) { try prepared.run(run.input) }
            #expect(result == 300)
        }
    }
}
