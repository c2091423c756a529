import BPFHelpers
import BPFISA
import BPFInterpreter
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation
import Testing

/// The interpreter, which checks every access, is the independent truth:
/// no access the verifier calls safe may ever fail its check, and no run of
/// a program proven to terminate may execute more than `maxInstructions`.
struct SoundnessFuzzTests {
    struct Tally { var programs = 0, skipped = 0, runs = 0, proven = 0, accesses = 0, terminating = 0, failures = 0 }

    func check(seed: UInt64, tally: inout Tally, map: any BPFMap) throws {
        var generator = RandomProgram(seed: seed)
        let program = generator.generate()
        let linked: LinkedProgram
        // A low unroll limit exercises widening (and keeps the test quick).
        let options = LoadOptions(verifierLimits: VerifierLimits(maxSteps: 200_000, unrollLimit: 40))
        do { linked = try LinkedProgram(program: program, type: ProgramTypes.xdp, maps: [map], options: options) } catch {
            tally.skipped += 1
            return
        }
        tally.programs += 1
        let proofs = linked.proofs
        if ProcessInfo.processInfo.environment["VERIFIER_FUZZ_TRACE"] != nil { FileHandle.standardError.write(Data("  steps \(linked.verification.steps) \(linked.verification.duration) terminates \(proofs.terminates) \(linked.verification.gaveUp ?? "")\n".utf8)) }
        tally.proven += proofs.safeAccessCount
        tally.accesses += linked.verification.accessCount
        if proofs.terminates { tally.terminating += 1 }
        let limit = proofs.terminates ? proofs.maxInstructions : 20_000
        let prepared = try Interpreter().prepare(linked.program, configuration: EngineConfiguration(helpers: linked.helpers, instructionLimit: limit))
        for _ in 0..<8 {
            var rng = generator.rng
            var length = Int.random(in: 14...120, using: &rng)
            if !generator.checks.isEmpty, Int.random(in: 0..<100, using: &rng) < 70 {
                length = max(14, generator.checks[Int.random(in: 0..<generator.checks.count, using: &rng)] + Int.random(in: -1...1, using: &rng))
            }
            let packet = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            generator.rng = rng
            let run = try linked.makeRun(input: packet)
            tally.runs += 1
            let outcome: Result<UInt64, ExecutionError> = withExtendedLifetime(run) {
                do throws(ExecutionError) { return .success(try prepared.run(run.input)) } catch { return .failure(error) }
            }
            if case .failure(let error) = outcome {
                switch error {
                case .outOfBounds(let pc, _, _, _):
                    if proofs.isSafeAccess(at: pc) {
                        tally.failures += 1
                        Issue.record("seed \(seed): access at \(pc) proven safe but failed: \(error)\n\(linked.verification.log)")
                    }
                case .unsupported(let pc, _):
                    if case .atomic = linked.program.instructions[pc], proofs.isSafeAccess(at: pc) {
                        tally.failures += 1
                        Issue.record("seed \(seed): atomic at \(pc) proven aligned but was not: \(error)")
                    }
                case .instructionLimit:
                    if proofs.terminates {
                        tally.failures += 1
                        Issue.record("seed \(seed): ran past the proven bound of \(limit) instructions")
                    }
                default:
                    break
                }
            }
        }
    }

    @Test func randomProgramsAgreeWithTheInterpreter() throws {
        let map = try arrayMap(valueSize: 16, entries: 4)
        var tally = Tally()
        let count = UInt64(ProcessInfo.processInfo.environment["VERIFIER_FUZZ_PROGRAMS"] ?? "") ?? 1500
        let trace = ProcessInfo.processInfo.environment["VERIFIER_FUZZ_TRACE"] != nil
        for seed in 0..<count {
            if trace { FileHandle.standardError.write(Data("seed \(seed)\n".utf8)) }
            let before = ContinuousClock.now
            try check(seed: seed, tally: &tally, map: map)
            if trace { FileHandle.standardError.write(Data("  \(ContinuousClock.now - before)\n".utf8)) }
            if tally.failures > 10 { break }
        }
        // The generator must exercise the verifier: most programs link, and
        // many accesses are proven (otherwise the test proves nothing).
        #expect(tally.programs > count * 8 / 10, "\(tally)")
        #expect(tally.proven * 4 > tally.accesses, "\(tally)")
        #expect(tally.terminating * 2 > tally.programs, "\(tally)")
        print("soundness fuzz: \(tally)")
    }
}
