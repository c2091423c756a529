import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import BPFTestSuite
import Synchronization
import Testing

/// The arm32 JIT's own runaway guard: a program whose termination nothing
/// proved stops on the guard, with the interpreter's error and after the
/// interpreter's amount of work; with termination proven there is no guard.
@Suite struct RunawayGuardTests {
    final class Counter: Sendable {
        let calls = Mutex(0)
    }

    /// A loop calling a counting helper: `call count; ja -2`. The guard
    /// charges the two slots the jump spans per iteration, as the
    /// interpreter counts two instructions, so both engines make the same
    /// number of calls before they stop (the emulator's own backstop would
    /// allow dozens of native instructions per unit of budget: many more).
    @Test func aRunawayLoopStopsOnTheGuardLikeTheInterpreter() {
        let limit: UInt64 = 1_000
        let program = Program([.call(.helper(5)), .jump(offset: -2), .exit])
        func counted(_ run: (HelperRegistry) -> Outcome) -> (Outcome, Int) {
            let counter = Counter()
            let helper = Helper(id: 5, name: "count", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ in
                counter.calls.withLock { $0 += 1 }
                return 0
            }
            let result = run(HelperRegistry([helper]))
            return (result, counter.calls.withLock { $0 })
        }
        let (jit, jitCalls) = counted { outcome(program, memory: [], on: arm32(), helpers: $0, limit: limit) }
        let (interpreter, interpreterCalls) = counted { outcome(program, memory: [], on: Interpreter(), helpers: $0, limit: limit) }
        let outcomes = [jit, interpreter], counts = [jitCalls, interpreterCalls]
        // Both stop on the budget; the JIT at the jump that ran it out, the
        // interpreter at the instruction it would have executed next.
        for outcome in outcomes {
            if case .failure(.instructionLimit(_, let reported)) = outcome { #expect(reported == limit) } else {
                Issue.record("the loop was not stopped by the limit: \(outcome)")
            }
        }
        #expect(jit == .failure(.instructionLimit(pc: 1, limit: limit)))
        #expect(abs(counts[0] - counts[1]) <= 1, "helper calls: jit \(counts[0]), interpreter \(counts[1])")
    }

    @Test func aSelfJumpStopsAtItsPc() {
        let (jit, interpreter) = bothEngines([.mov64(.r0, 0), .jump(offset: -1), .exit], limit: 1000)
        #expect(jit == interpreter)
        #expect(jit == .failure(.instructionLimit(pc: 1, limit: 1000)))
    }

    /// Recursion is charged one unit per local call, as on x86-64 and arm64:
    /// calls that return before the depth limit are bounded by the budget.
    @Test func localCallsAreCharged() throws {
        // A loop of calls to a leaf function: charged per call and per jump back.
        let program = Program([.call(.local(offset: 2)), .jump(offset: -2), .exit, .mov64(.r0, 1), .exit])
        let image = try arm32().emulate(program, configuration: EngineConfiguration(instructionLimit: 1_000)).image
        #expect(image.statistics.guardCharges == 2)
        let (jit, interpreter) = bothEngines(program.instructions, limit: 1_000)
        if case .failure(.instructionLimit) = jit {} else { Issue.record("jit: \(jit)") }
        if case .failure(.instructionLimit) = interpreter {} else { Issue.record("interpreter: \(interpreter)") }
    }

    /// Proven to end within the budget: no charge is emitted, and the
    /// program still computes the interpreter's value.
    @Test func provenTerminationHasNoGuard() throws {
        let program = SamplePrograms.fnv1a
        let bytes = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let limit: UInt64 = 5 * 64 + 6
        let plain = try arm32().emulate(program, configuration: EngineConfiguration(instructionLimit: limit))
        let proven = try arm32().emulate(program, configuration: EngineConfiguration(
            instructionLimit: limit, proofs: TestProofs.full(program, maxInstructions: limit)))
        #expect(plain.image.statistics.guardCharges == 1)
        #expect(proven.image.statistics.guardCharges == 0)
        #expect(proven.image.size < plain.image.size)
        let memory = GuestMemory(bytes: bytes)
        let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
        #expect(try plain.run(input) == SamplePrograms.fnv1a(bytes))
        #expect(try proven.run(input) == SamplePrograms.fnv1a(bytes))
    }
}
