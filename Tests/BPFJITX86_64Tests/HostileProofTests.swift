import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import BPFTestSuite
import Testing

/// `JITProofs`, the one place where both JITs derive what they may leave
/// out from a verifier's proofs, fed proofs that are wrong about the
/// program. Each wrong fact must be refused (recorded in `refusals`) and
/// the code must keep the check, clear or guard it would have removed, so
/// the run ends as on the interpreter. True facts are kept.
@Suite struct HostileProofTests {
    static let limit = ExecutionLimits.defaultInstructionLimit
    static let bytes = [UInt8](repeating: 0x5A, count: 64)

    static func facts(_ program: Program, _ proofs: ProgramProofs?) -> JITProofs {
        JITProofs(proofs, program: program, instructionLimit: limit)
    }

    static func proofs(_ program: Program, safe: [Bool]? = nil, registersInitialized: Bool = false, stackReadsInitialized: Bool = false,
                       stackDepth: Int? = nil, helperCalls: [Int: HelperCallProof] = [:]) -> ProgramProofs {
        ProgramProofs(instructions: program.instructions, safeAccesses: safe ?? program.instructions.map { $0.accessBase != nil },
                      terminates: true, maxInstructions: 100, initializesRegistersBeforeUse: registersInitialized,
                      stackReadsInitialized: stackReadsInitialized, stackDepth: stackDepth, helperCalls: helperCalls)
    }

    static func image(_ program: Program, _ proofs: ProgramProofs?) throws -> JITImage {
        try X86_64JIT.assemble(program, configuration: EngineConfiguration(instructionLimit: limit, proofs: proofs), at: 0x1000_0000)
    }

    /// r0 or the error, on the JIT with `proofs` and on the interpreter.
    static func runs(_ program: Program, _ proofs: ProgramProofs?) -> (jit: String, interpreter: String) {
        func run(_ engine: some ExecutionEngine, _ proofs: ProgramProofs?) -> String {
            let memory = GuestMemory(bytes: bytes)
            do {
                let prepared = try engine.prepare(program, configuration: EngineConfiguration(instructionLimit: limit, proofs: proofs))
                return "\(try prepared.run(RunInput(r1: memory.address, r2: 64, regions: MemoryRegions([memory.region(.input)]))))"
            } catch let error as ExecutionError {
                // The stacks lie at different addresses: compare the rest.
                if case .outOfBounds(let pc, _, let size, let write) = error { return "out of bounds at \(pc): \(size) bytes, write \(write)" }
                return "\(error)"
            } catch {
                return "\(error)"
            }
        }
        return (run(X86_64JIT(), proofs), run(Interpreter(), nil))
    }

    @Test func proofsOfAnotherProgramApplyNowhere() throws {
        let program = SamplePrograms.fnv1a
        var instructions = program.instructions
        instructions[instructions.count - 2] = .alu(.w64, .xor, dst: .r0, .immediate(1))
        let other = Program(instructions)
        let facts = Self.facts(other, TestProofs.full(program))
        #expect(!facts.applies && facts.refusals == [.otherProgram] && !facts.isSafeAccess(at: 3) && !facts.unguarded)
        #expect(try Self.image(other, TestProofs.full(program)).bytes == Self.image(other, nil).bytes)
    }

    @Test func trueFactsAreKept() {
        let program = SamplePrograms.fnv1a
        let facts = Self.facts(program, TestProofs.full(program, maxInstructions: 10_000))
        #expect(facts.refusals.isEmpty && facts.applies && facts.unguarded && facts.registersInitialized)
    }

    /// A "safe" direct store 8 bytes above r10 (over the saved rbp): no proof can be right; it stays checked.
    @Test func safeFlagOnADirectStackAccessOutsideTheFrame() throws {
        let program = Program([.storeImmediate(.double, dst: .r10, offset: 8, imm: 0x4141), .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit])
        let proofs = Self.proofs(program, registersInitialized: true)
        #expect(Self.facts(program, proofs).refusals == [.safeFlagOnDirectStackAccess(pc: 0)])
        #expect(try Self.image(program, proofs).statistics.checkedAccesses == 1)
        let (jit, interpreter) = Self.runs(program, proofs)
        #expect(jit == interpreter && jit == "out of bounds at 0: 8 bytes, write true", "\(jit) vs \(interpreter)")
    }

    @Test func safeFlagOnANonAccess() {
        let program = Program([.alu(.w64, .mov, dst: .r0, .immediate(1)), .exit])
        let facts = Self.facts(program, Self.proofs(program, safe: [true, false], registersInitialized: true))
        #expect(facts.refusals == [.safeFlagOnNonAccess(pc: 0)] && !facts.isSafeAccess(at: 0))
    }

    @Test(arguments: [-8, 513, 4_096, Int.max])
    func stackDepthOutsideOneFrame(_ depth: Int) {
        let program = Program([.alu(.w64, .mov, dst: .r0, .immediate(1)), .exit])
        let facts = Self.facts(program, Self.proofs(program, stackDepth: depth))
        #expect(facts.stackDepth == nil && facts.refusals == [.stackDepthOutOfRange(depth)])
    }

    /// `r0 = r3; exit` read r3 before writing it: the clearing stays and r0 is 0, as on the interpreter.
    @Test func registersClaimedInitializedButReadFirst() throws {
        let program = Program([.alu(.w64, .mov, dst: .r0, .register(.r3)), .exit])
        let proofs = Self.proofs(program, registersInitialized: true)
        let facts = Self.facts(program, proofs)
        #expect(!facts.registersInitialized && facts.refusals == [.registerReadBeforeWrite(pc: 0, register: .r3)])
        let (jit, interpreter) = Self.runs(program, proofs)
        #expect(jit == interpreter && jit == "0")
        // Read only on one path, and through a local call: still refused.
        let branchy = Program([.branch(.w64, .eq, dst: .r1, .immediate(0), offset: 1), .alu(.w64, .mov, dst: .r4, .immediate(1)),
                               .call(.local(offset: 1)), .exit, .alu(.w64, .mov, dst: .r0, .register(.r4)), .exit])
        #expect(Self.facts(branchy, Self.proofs(branchy, registersInitialized: true)).refusals
                == [.registerReadBeforeWrite(pc: 4, register: .r4)])
    }

    /// A function placed before the one that calls it reads r6, which no
    /// path writes: the check sweeps slots in order, so it reaches the
    /// function's read only on a second round, from the later call site.
    @Test func registerReadInAFunctionCalledFromBelow() throws {
        let program = Program([.call(.local(offset: 4)), .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,   // main: call f
                               .alu(.w64, .mov, dst: .r0, .register(.r6)), .exit,                           // g: r0 = r6
                               .call(.local(offset: -3)), .exit])                                           // f: call g
        let facts = Self.facts(program, Self.proofs(program, registersInitialized: true))
        #expect(!facts.registersInitialized && facts.refusals == [.registerReadBeforeWrite(pc: 3, register: .r6)])
        let (jit, interpreter) = Self.runs(program, Self.proofs(program, registersInitialized: true))
        #expect(jit == interpreter && jit == "0")
    }

    /// A read of r10 - 8 before any write: the stack clear stays, and the
    /// run reads 0 as on the interpreter, not what the host left there.
    @Test func stackClaimedInitializedButReadFirst() throws {
        let program = Program([.load(.double, dst: .r0, src: .r10, offset: -8), .exit])
        let proofs = Self.proofs(program, registersInitialized: true, stackReadsInitialized: true)
        let facts = Self.facts(program, proofs)
        #expect(!facts.stackReadsInitialized && facts.refusals == [.stackReadsNotInitialized])
        let backend = try X86_64Backend(program: program, helpers: JITHelperTable(program: program, registry: HelperRegistry()),
                                        options: JITOptions(), proofs: facts)
        #expect(backend.framePlan.clearsStack)
        let (jit, interpreter) = Self.runs(program, proofs)
        #expect(jit == interpreter && jit == "0")
    }

    @Test func helperProofsOnOtherInstructionsOrUnknownMaps() {
        let program = Program([.loadImmediate64(dst: .r1, .value(0x1000)), .immediate64Tail,
                               .alu(.w64, .mov, dst: .r2, .register(.r10)), .alu(.w64, .add, dst: .r2, .immediate(-8)),
                               .storeImmediate(.double, dst: .r10, offset: -8, imm: 0),
                               .call(.helper(1)), .call(.helper(1)), .exit])
        let claims = [3: HelperCallProof(mapHandle: 0x1000, memoryArgumentsInBounds: true),
                      5: HelperCallProof(mapHandle: 0x1000, memoryArgumentsInBounds: true),
                      6: HelperCallProof(mapHandle: 0x2000, memoryArgumentsInBounds: true)]
        let facts = Self.facts(program, Self.proofs(program, helperCalls: claims))
        #expect(facts.helperCall(at: 5) != nil && facts.helperCall(at: 3) == nil && facts.helperCall(at: 6) == nil)
        #expect(facts.refusals == [.helperProofOnNonHelperCall(pc: 3), .helperProofUnknownMap(pc: 6, handle: 0x2000)])
    }

    /// A wrong "stack reads initialized" the JIT cannot check (r10 escapes
    /// into r2): a stack of up to 64 bytes is cleared anyway
    /// (`JITOptions.provenStackClearLimit`), so the read sees 0, as on the
    /// interpreter, not what the host left on its stack.
    @Test func smallProvenStacksAreClearedAnyway() throws {
        let program = Program([.alu(.w64, .mov, dst: .r2, .register(.r10)), .alu(.w64, .add, dst: .r2, .immediate(-8)),
                               .load(.double, dst: .r0, src: .r2, offset: 0), .exit])
        let proofs = Self.proofs(program, registersInitialized: true, stackReadsInitialized: true, stackDepth: 8)
        #expect(Self.facts(program, proofs).refusals.isEmpty)
        let configuration = EngineConfiguration(instructionLimit: Self.limit, proofs: proofs)
        let hardened = try X86_64JIT().compile(program, configuration: configuration)
        let trusting = try X86_64JIT(options: JITOptions(provenStackClearLimit: 0)).compile(program, configuration: configuration)
        #expect(hardened.image.statistics.clearedStackBytes == 16 && trusting.image.statistics.clearedStackBytes == 0)
        let (jit, interpreter) = Self.runs(program, proofs)
        #expect(jit == interpreter && jit == "0")
    }
}
