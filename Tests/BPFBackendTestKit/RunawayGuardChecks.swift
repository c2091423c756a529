import BPFInterpreter
import BPFISA
import BPFJIT
import BPFRuntime
import BPFTestSuite
import Synchronization
import Testing

/// A JIT's own runaway guard as every backend that carries one must keep
/// it: a program whose termination nothing proved stops on the guard, with
/// the interpreter's error and after the interpreter's amount of work; with
/// termination proven there is no guard. Each backend's `RunawayGuardTests`
/// runs these on its engine and keeps only what is its own.
public struct RunawayGuardChecks: Sendable {
    public let engine: any ExecutionEngine
    /// The interpreter of the engine's byte order.
    public let reference: Interpreter
    /// The image the engine compiles for a program and configuration.
    public let image: @Sendable (Program, EngineConfiguration) throws -> JITImage

    public init(engine: any ExecutionEngine, reference: Interpreter = Interpreter(),
                image: @escaping @Sendable (Program, EngineConfiguration) throws -> JITImage) {
        self.engine = engine
        self.reference = reference
        self.image = image
    }

    final class Counter: Sendable {
        let calls = Mutex(0)
    }

    /// A loop calling a counting helper: `call count; ja -2`. The guard
    /// charges the two slots the jump spans per iteration, as the
    /// interpreter counts two instructions, so both engines make the same
    /// number of calls before they stop (the emulator's own backstop would
    /// allow dozens of native instructions per unit of budget: many more).
    public func aRunawayLoopStopsOnTheGuardLikeTheInterpreter() {
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
        let (jit, jitCalls) = counted { outcome(program, memory: [], on: engine, helpers: $0, limit: limit) }
        let (interpreter, interpreterCalls) = counted { outcome(program, memory: [], on: reference, helpers: $0, limit: limit) }
        // Both stop on the budget; the JIT at the jump that ran it out, the
        // interpreter at the instruction it would have executed next.
        for outcome in [jit, interpreter] {
            if case .failure(.instructionLimit(_, let reported)) = outcome { #expect(reported == limit) } else {
                Issue.record("the loop was not stopped by the limit: \(outcome)")
            }
        }
        #expect(jit == .failure(.instructionLimit(pc: 1, limit: limit)))
        #expect(abs(jitCalls - interpreterCalls) <= 1, "helper calls: jit \(jitCalls), interpreter \(interpreterCalls)")
    }

    public func aSelfJumpStopsAtItsPc() {
        let (jit, interpreter) = runOnBoth([.alu(.w64, .mov, dst: .r0, .immediate(0)), .jump(offset: -1), .exit], limit: 1000,
                                           engine: engine, reference: reference)
        #expect(jit == interpreter)
        #expect(jit == .failure(.instructionLimit(pc: 1, limit: 1000)))
    }

    /// Recursion is charged one unit per local call, as on x86-64 and arm64:
    /// calls that return before the depth limit are bounded by the budget.
    public func localCallsAreCharged() throws {
        // A loop of calls to a leaf function: charged per call and per jump back.
        let program = Program([.call(.local(offset: 2)), .jump(offset: -2), .exit, .alu(.w64, .mov, dst: .r0, .immediate(1)), .exit])
        #expect(try image(program, EngineConfiguration(instructionLimit: 1_000)).statistics.guardCharges == 2)
        let (jit, interpreter) = runOnBoth(program.instructions, limit: 1_000, engine: engine, reference: reference)
        if case .failure(.instructionLimit) = jit {} else { Issue.record("jit: \(jit)") }
        if case .failure(.instructionLimit) = interpreter {} else { Issue.record("interpreter: \(interpreter)") }
    }

    /// Proven to end within the budget: no charge is emitted, and the
    /// program still computes the interpreter's value.
    public func provenTerminationHasNoGuard() throws {
        let program = SamplePrograms.fnv1a
        let bytes = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let limit: UInt64 = 5 * 64 + 6
        let plainConfiguration = EngineConfiguration(instructionLimit: limit)
        let provenConfiguration = EngineConfiguration(instructionLimit: limit, proofs: TestProofs.full(program, maxInstructions: limit))
        let plainImage = try image(program, plainConfiguration), provenImage = try image(program, provenConfiguration)
        #expect(plainImage.statistics.guardCharges == 1)
        #expect(provenImage.statistics.guardCharges == 0)
        #expect(provenImage.size < plainImage.size)
        let memory = GuestMemory(bytes: bytes)
        let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
        #expect(try engine.prepare(program, configuration: plainConfiguration).run(input) == SamplePrograms.fnv1a(bytes))
        #expect(try engine.prepare(program, configuration: provenConfiguration).run(input) == SamplePrograms.fnv1a(bytes))
    }
}
