import BPFAssembler
import BPFHelpers
import BPFISA
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation
import Testing

/// The proof-aimed differential fuzzer: `ProofAimedProgram`s (pointers and
/// numbers meeting at joins and loop heads, spilled, passed to calls,
/// helpers and tail calls) linked and verified as `bpfkit run` does, run on
/// a JIT with the verifier's proofs against the interpreter, which checks
/// everything. Both run on stacks filled with a pattern (`HostStack` for the
/// JIT; the interpreter's `StackFill` for a second interpreter, compared
/// when the program was proven to read only stack it wrote). A program
/// that loads where pointers may not leak must give the interpreter's
/// results exactly; one that may leak an address (the verifier refuses it
/// under that policy) is run but not compared, as its values and even its
/// branches may follow addresses that differ between engines. Any
/// difference fails the test with the seed and the program.
///
/// Options (environment variables):
/// - `PROOF_FUZZ_SEED`: the first seed (default 0x9e0f_0000); program k uses seed + k.
/// - `PROOF_FUZZ_COUNT`: how many programs at most (default: as many as the time allows).
/// - `PROOF_FUZZ_SECONDS`: wall-time budget (default 40; the emulated run takes a quarter).
/// - `PROOF_FUZZ_MADE_UP_CONTEXTS=0`: r1 at every tail call is the context
///   (to look past that class of hole on a build that still has it).
/// - `PROOF_FUZZ_TRACE=1`: print each seed before its runs, and why a
///   program was left out.
/// `scripts/fuzz-proofs` runs it for as long as you like.
struct ProofFuzz {
    struct Tally: CustomStringConvertible {
        var programs = 0, refused = 0, undefined = 0, runs = 0, errors = 0, provenPrograms = 0, stackInitialized = 0
        var provenExercised = 0, addressDependent = 0, divergences = 0, soundnessFailures = 0
        var leaking = 0
        var description: String {
            "\(programs) programs (\(provenPrograms) with proofs, \(stackInitialized) proven to read only stack they wrote; \(undefined) left out: a register read before written; \(refused) refused at load), \(runs) runs (\(errors) ended in an error), \(provenExercised) proven accesses exercised, \(divergences) divergences (\(soundnessFailures) in proven code), \(leaking) programs may leak addresses (run, not compared; \(addressDependent) gave other results)"
        }
    }

    /// One engine's copy: maps of its own (the value array and the program
    /// array holding the target and main), main linked, verified and prepared.
    final class Copy {
        let linked: LinkedProgram
        let target: LinkedProgram
        let values: any BPFMap
        let programs: ProgramArray
        let prepared: any PreparedProgram

        init(_ pair: (main: Program, target: Program), engine: any ExecutionEngine) throws {
            values = try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 64, maxEntries: 4))
            guard let array = try makeMap(MapDefinition(name: "programs", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2)) as? ProgramArray else {
                throw TailCallSetupError("not a program array")
            }
            programs = array
            let options = LoadOptions(trace: { _ in })
            linked = try LinkedProgram(program: pair.main, type: ProgramTypes.xdp, maps: [values, programs], options: options)
            target = try LinkedProgram(program: pair.target, type: ProgramTypes.xdp, maps: [values, programs], options: options)
            try programs.set(TailCallTargets.make(target, engine: engine, instructionLimit: ProofFuzz.limit), at: 0)
            try programs.set(TailCallTargets.make(linked, engine: engine, instructionLimit: ProofFuzz.limit), at: 1)
            prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: ProofFuzz.limit))
        }

        deinit { programs.removeAll() }

        func run(_ packet: [UInt8], dirty: Bool) throws -> Outcome {
            let run = try linked.makeRun(input: packet)
            return withExtendedLifetime(run) {
                let body = { () -> Result<UInt64, ExecutionError> in
                    do throws(ExecutionError) { return .success(try self.prepared.run(run.input)) } catch { return .failure(error) }
                }
                return Outcome(dirty ? HostStack.dirtied(body) : body(), packet: run.output())
            }
        }

        /// The runs over `packets`, then the value map's contents as a last outcome.
        func replay(_ packets: [[UInt8]], dirty: Bool) throws -> [Outcome] {
            var outcomes = try packets.map { try run($0, dirty: dirty) }
            let contents = values.entries().flatMap { $0.value }
            outcomes.append(.value(0, packet: contents))
            return outcomes
        }
    }

    static let limit: UInt64 = 200_000

    /// Whether the verifier refuses `pair` under a policy that forbids
    /// pointer leaks (spilled pointers read in part, pointers stored to
    /// memory, compared or returned): such a program's values may be
    /// addresses.
    static func mayLeakAddresses(_ pair: (main: Program, target: Program)) -> Bool {
        guard let values = try? makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 64, maxEntries: 4)),
              let programs = try? makeMap(MapDefinition(name: "programs", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2))
        else { return true }
        return LinkedProgram.addressLeak(in: [pair.main, pair.target], type: ProgramTypes.xdp, maps: [values, programs],
                                         options: LoadOptions(trace: { _ in })) != nil
    }

    static func packets(_ rng: inout SplitMix) -> [[UInt8]] {
        (0..<4).map { _ in
            let length = [14, 34, 60, 64, 65, 100, 200][Int.random(in: 0..<7, using: &rng)]
            return (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
    }

    /// Checks one program on `side` (a JIT); records what it saw.
    static func check(seed: UInt64, side: Side, tally: inout Tally) throws {
        var options = ProofAimedProgram.Options()
        options.madeUpContexts = ProcessInfo.processInfo.environment["PROOF_FUZZ_MADE_UP_CONTEXTS"] != "0"
        var generator = ProofAimedProgram(seed: seed, options: options)
        let pair = generator.generate()
        var rng = generator.rng
        let packets = Self.packets(&rng)
        let reference: Copy
        let trace = ProcessInfo.processInfo.environment["PROOF_FUZZ_TRACE"] != nil
        do { reference = try Copy(pair, engine: Side.reference.engine()) } catch {
            if trace { print("seed 0x\(String(seed, radix: 16)): refused: \(error)") }
            tally.refused += 1
            return
        }
        // A register read before written holds what each engine left there:
        // the ISA does not say (the kernel refuses such programs).
        if let read = reference.linked.verification.uninitializedRead {
            if trace { print("seed 0x\(String(seed, radix: 16)): \(read)") }
            tally.undefined += 1
            return
        }
        tally.programs += 1
        // With PROOF_FUZZ_TRACE, the seed goes out before the runs: a
        // program that crashes the process can be replayed.
        if trace { FileHandle.standardError.write(Data("seed 0x\(String(seed, radix: 16)): running\n".utf8)) }
        if ProcessInfo.processInfo.environment["PROOF_FUZZ_TRACE"] == "programs" {
            print("main:\n\(Disassembler.disassemble(pair.main, style: .llvm))\ntarget:\n\(Disassembler.disassemble(pair.target, style: .llvm))")
        }
        let proofs = reference.linked.proofs
        let proven = proofs.safeAccessCount > 0 || proofs.stackReadsInitialized || proofs.terminates
        if proven { tally.provenPrograms += 1 }
        if proofs.stackReadsInitialized { tally.stackInitialized += 1 }
        let expected = try reference.replay(packets, dirty: false)
        tally.runs += packets.count
        tally.errors += expected.filter(\.isError).count
        tally.provenExercised += provenAccessesExercised(try Copy(pair, engine: Side.reference.engine()).linked, inputs: [packets[0]], cap: 1_500)
        var compared: [(Side, [Outcome])] = []
        let engine = try Copy(pair, engine: side.engine())
        compared.append((side, try engine.replay(packets, dirty: side == .x86_64)))
        // A tail-called program starts on a stack of its own, filled too:
        // the comparison holds only if every program a run may enter was
        // proven to read only stack it wrote.
        if proofs.stackReadsInitialized && reference.target.proofs.stackReadsInitialized {
            compared.append((.filledInterpreter, try Copy(pair, engine: Side.filledInterpreter.engine()).replay(packets, dirty: false)))
        }
        // A program the verifier refuses where pointers may not leak can
        // put an address (or part of one) in its results, or branch on one
        // (a stack pointer compared with data_end), and each engine runs on
        // memory at other addresses: its runs are made (a hole would crash
        // here) but not compared. Every other program must give the
        // interpreter's results exactly.
        if Self.mayLeakAddresses(pair) {
            tally.leaking += 1
            if compared.contains(where: { $0.1 != expected }) { tally.addressDependent += 1 }
            return
        }
        for (side, outcomes) in compared {
            guard let k = outcomes.indices.first(where: { !outcomes[$0].agrees(with: expected[$0], leak: false) }) else { continue }
            tally.divergences += 1
            if proven { tally.soundnessFailures += 1 }
            let what = k < packets.count ? "run \(k) (\(packets[k].count)-byte packet)" : "the map after the runs"
            Issue.record("""
                seed 0x\(String(seed, radix: 16)): \(proven ? "SOUNDNESS: " : "")the \(side) and the interpreter differ on \(what): \
                interpreter \(expected[k]), \(side) \(outcomes[k])
                proofs: \(proofs.safeAccessCount) accesses proven, stack reads initialized: \(proofs.stackReadsInitialized), terminates: \(proofs.terminates)
                main:
                \(Disassembler.disassemble(pair.main, style: .llvm))
                target:
                \(Disassembler.disassemble(pair.target, style: .llvm))
                replay: PROOF_FUZZ_SEED=\(seed) PROOF_FUZZ_COUNT=1
                """)
            return
        }
    }

    /// Runs programs from the configured seed until the count or the time is used up.
    static func run(side: Side, defaultSeconds: Double) throws -> Tally {
        let environment = ProcessInfo.processInfo.environment
        let first = environment["PROOF_FUZZ_SEED"].flatMap { UInt64($0.hasPrefix("0x") ? String($0.dropFirst(2)) : $0, radix: $0.hasPrefix("0x") ? 16 : 10) } ?? 0x9e0f_0000
        let count = environment["PROOF_FUZZ_COUNT"].flatMap { UInt64($0) } ?? .max
        let seconds = environment["PROOF_FUZZ_SECONDS"].flatMap(Double.init).map { side == .arm64 ? $0 / 4 : $0 } ?? defaultSeconds
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var tally = Tally()
        var k: UInt64 = 0
        while k < count && ContinuousClock.now < deadline {
            try check(seed: first &+ k, side: side, tally: &tally)
            k += 1
        }
        print("Proof-aimed differential fuzz (\(side) against the interpreter), seeds 0x\(String(first, radix: 16))..<+\(k): \(tally)")
        return tally
    }
}

@Suite(.serialized) struct ProofFuzzTests {
    @Test func provenProgramsRunAlikeOnTheJITAndTheInterpreter() throws {
        #if arch(x86_64)
        let tally = try ProofFuzz.run(side: .x86_64, defaultSeconds: 40)
        #expect(tally.divergences == 0, "\(tally)")
        // The fuzz must reach proven code and both ends of the runs.
        if tally.programs >= 50 {
            #expect(tally.provenPrograms * 2 > tally.programs, "\(tally)")
            #expect(tally.provenExercised > tally.programs, "\(tally)")
            #expect(tally.errors > 0 && tally.errors < tally.runs, "\(tally)")
        }
        #endif
    }

    @Test func generatorDrawsWhatItAimsAt() {
        // Over 200 seeds: joins, tail calls with made-up contexts, local
        // calls, helpers with memory arguments and loops all appear.
        var tailCalls = 0, localCalls = 0, memoryHelpers = 0, backward = 0
        for seed in 0..<200 as Range<UInt64> {
            var generator = ProofAimedProgram(seed: seed)
            let (main, _) = generator.generate()
            for (pc, instruction) in main.instructions.enumerated() {
                switch instruction {
                case .call(.helper(12)): tailCalls += 1
                case .call(.helper(189)), .call(.helper(190)), .call(.helper(2)): memoryHelpers += 1
                case .call(.local): localCalls += 1
                case .branch, .jump: if let target = instruction.target(at: pc), target <= pc { backward += 1 }
                default: break
                }
            }
        }
        #expect(tailCalls > 50 && localCalls > 50 && memoryHelpers > 50 && backward > 20,
                "\(tailCalls) tail calls, \(localCalls) local calls, \(memoryHelpers) memory helpers, \(backward) loops")
    }
}

/// The fuzzer on the arm64 JIT (emulated on other hosts): run by
/// `scripts/test` with the emulator's tests.
@Suite(.serialized) struct EmulatedProofFuzzTests {
    @Test func provenProgramsRunAlikeOnTheArm64JITAndTheInterpreter() throws {
        let tally = try ProofFuzz.run(side: .arm64, defaultSeconds: 10)
        #expect(tally.divergences == 0, "\(tally)")
    }
}
