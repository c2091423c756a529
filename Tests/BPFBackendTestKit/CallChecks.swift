import BPFInterpreter
import BPFISA
import BPFRuntime
import Testing

/// Calls as every JIT backend must run them, compared with the interpreter:
/// helper results and failures, a helper reading the stack, `callx`,
/// recursion into the entry function and the depth limit, local calls'
/// frames and registers, errors unwinding from deep calls, kfuncs and
/// unresolved loads. One body per check; each backend's `CallTests` runs
/// them on its engine (in each configuration that matters to calls) and
/// keeps only what is its own (near and far call forms, say).
public struct CallChecks: Sendable {
    public let engine: any ExecutionEngine

    public init(engine: any ExecutionEngine) { self.engine = engine }

    public static let sum = Helper(id: 1, name: "sum", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
        call.argument(1) &+ 2 &* call.argument(2) &+ 3 &* call.argument(3) &+ 4 &* call.argument(4) &+ 5 &* call.argument(5)
    }
    public static let fail = Helper(id: 2, name: "fail", prototype: HelperPrototype([], returns: .void)) { _ throws(HelperError) in
        throw HelperError("refused")
    }
    public static let readStack = Helper(id: 3, name: "read", prototype: HelperPrototype([.pointer(readOnly: true)],
                                                                                         returns: .scalar(bits: 64))) { call throws(HelperError) in
        try call.memory.load(UInt64.self, at: call.argument(1))
    }

    /// r1..r5 = 1..5; r0 = sum(...); r0 += r1 + r5 (kept across the call).
    public static let callSum: [Instruction] = [
        .alu(.w64, .mov, dst: .r1, .immediate(1)), .alu(.w64, .mov, dst: .r2, .immediate(2)),
        .alu(.w64, .mov, dst: .r3, .immediate(3)), .alu(.w64, .mov, dst: .r4, .immediate(4)),
        .alu(.w64, .mov, dst: .r5, .immediate(5)),
        .call(.helper(1)),
        .alu(.w64, .add, dst: .r0, .register(.r1)), .alu(.w64, .add, dst: .r0, .register(.r5)), .exit,
    ]
    public static let expectedSum: UInt64 = 1 + 4 + 9 + 16 + 25 + 1 + 5

    /// f(n) = n + f(n - 1), f(0) = 0, recursing into instruction 0 itself.
    public static let recursion: [Instruction] = [
        .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 5),
        .alu(.w64, .mov, dst: .r6, .register(.r1)),
        .alu(.w64, .sub, dst: .r1, .immediate(1)),
        .call(.local(offset: -4)),
        .alu(.w64, .add, dst: .r0, .register(.r6)),
        .exit,
        .alu(.w64, .mov, dst: .r0, .immediate(0)),
        .exit,
    ]

    /// `instructions` prepared on the engine under test.
    public func prepare(_ instructions: [Instruction], helpers: [Helper] = [],
                        limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> any PreparedProgram {
        try engine.prepare(Program(instructions), configuration: EngineConfiguration(helpers: HelperRegistry(helpers), instructionLimit: limit))
    }

    func both(_ instructions: [Instruction], helpers: [Helper] = [], limit: UInt64 = 100_000) -> (jit: Outcome, interpreter: Outcome) {
        runOnBoth(instructions, helpers: helpers, limit: limit, engine: engine)
    }

    public func helperResultsMatchTheInterpreter() {
        let both = both(Self.callSum, helpers: [Self.sum])
        #expect(both.jit == both.interpreter && both.jit == .value(Self.expectedSum), "\(both)")
    }

    public func failingHelperStopsTheRunAtItsPc() {
        let program: [Instruction] = [.alu(.w64, .mov, dst: .r6, .immediate(7)), .alu(.w64, .mov, dst: .r0, .immediate(1)),
                                      .call(.helper(2)), .alu(.w64, .mov, dst: .r0, .immediate(5)), .exit]
        let both = both(program, helpers: [Self.fail])
        #expect(both.jit == .failure(.helperFailed(pc: 2, id: 2, message: "refused")))
        #expect(both.jit == both.interpreter)
    }

    public func unknownHelperIsRejectedAtPrepare() {
        #expect(throws: EngineError.self) { try prepare([.call(.helper(77)), .exit]) }
    }

    public func helperReadsTheStack() {
        let program: [Instruction] = [
            .loadImmediate64(dst: .r1, .value(0x1122_3344_5566_7788)), .store(.double, dst: .r10, offset: -16, src: .r1),
            .alu(.w64, .mov, dst: .r1, .register(.r10)), .alu(.w64, .add, dst: .r1, .immediate(-16)), .call(.helper(3)), .exit,
        ]
        let both = both(program, helpers: [Self.readStack])
        #expect(both.jit == .value(0x1122_3344_5566_7788) && both.jit == both.interpreter)
    }

    /// `callx`: a known helper, an unknown number, a value that is no
    /// 32-bit number, a negative one, and a helper that fails.
    public func callThroughRegister() {
        func callx(_ value: Instruction) -> [Instruction] { [value, .call(.register(.r7)), .exit] }
        let args: [Instruction] = [.r1, .r2, .r3, .r4, .r5].map { .alu(.w64, .mov, dst: $0, .immediate($0 == .r1 ? 1 : 0)) }
        let both = both(args + callx(.alu(.w64, .mov, dst: .r7, .immediate(1))), helpers: [Self.sum, Self.fail, Self.readStack])
        #expect(both.jit == .value(1) && both.jit == both.interpreter)
        let missing = self.both(callx(.alu(.w64, .mov, dst: .r7, .immediate(9))), helpers: [Self.sum])
        #expect(missing.jit == .failure(.unknownHelper(pc: 1, id: 9)) && missing.jit == missing.interpreter)
        let notANumber = self.both(callx(.loadImmediate64(dst: .r7, .value(1 << 40))), helpers: [Self.sum])
        #expect(notANumber.jit == notANumber.interpreter, "\(notANumber)")
        let minusTwo = self.both(callx(.alu(.w64, .mov, dst: .r7, .immediate(-2))), helpers: [Self.sum])
        #expect(minusTwo.jit == .failure(.unknownHelper(pc: 1, id: -2)) && minusTwo.jit == minusTwo.interpreter)
        let failing = self.both(callx(.alu(.w64, .mov, dst: .r7, .immediate(2))), helpers: [Self.sum, Self.fail])
        #expect(failing.jit == .failure(.helperFailed(pc: 1, id: 2, message: "refused")) && failing.jit == failing.interpreter)
    }

    public func recursionIntoTheEntryFunctionAndTheDepthLimit() throws {
        let program = try prepare(Self.recursion)
        for n in 0...7 {
            #expect(try program.run(RunInput(r1: UInt64(n), regions: MemoryRegions())) == UInt64(n * (n + 1) / 2))
        }
        #expect(throws: ExecutionError.callDepthExceeded(pc: 3, limit: ExecutionLimits.maxCallFrames)) {
            try program.run(RunInput(r1: 8, regions: MemoryRegions()))
        }
        let both = both(Self.recursion)
        #expect(both.jit == both.interpreter)
    }

    public func localCallsKeepR6ToR9AndHaveTheirOwnFrames() {
        // main: r6..r9 = 6..9, *(r10-8) = 100; call f; r0 += r6 + r7 + r8 + r9 + *(r10-8)
        // f: clobbers r6..r9, writes its own *(r10-8), returns 1000 + *(r10-8) of its frame.
        let program: [Instruction] = [
            .alu(.w64, .mov, dst: .r6, .immediate(6)), .alu(.w64, .mov, dst: .r7, .immediate(7)),
            .alu(.w64, .mov, dst: .r8, .immediate(8)), .alu(.w64, .mov, dst: .r9, .immediate(9)),
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 100),
            .call(.local(offset: 7)),
            .alu(.w64, .add, dst: .r0, .register(.r6)), .alu(.w64, .add, dst: .r0, .register(.r7)),
            .alu(.w64, .add, dst: .r0, .register(.r8)), .alu(.w64, .add, dst: .r0, .register(.r9)),
            .load(.double, dst: .r1, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .register(.r1)),
            .exit,
            // f at 13
            .alu(.w64, .mov, dst: .r6, .immediate(60)), .alu(.w64, .mov, dst: .r7, .immediate(70)),
            .alu(.w64, .mov, dst: .r8, .immediate(80)), .alu(.w64, .mov, dst: .r9, .immediate(90)),
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 5),
            .load(.double, dst: .r0, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .immediate(1000)),
            .exit,
        ]
        let both = both(program)
        #expect(both.jit == .value(1005 + 30 + 100) && both.jit == both.interpreter, "\(both)")
    }

    /// A callee's r1–r5 are what the caller sees after the call, as in the interpreter.
    public func calleeArgumentRegistersReachTheCaller() {
        let program: [Instruction] = [
            .alu(.w64, .mov, dst: .r1, .immediate(1)), .call(.local(offset: 3)), .alu(.w64, .mov, dst: .r0, .register(.r1)),
            .alu(.w64, .add, dst: .r0, .register(.r3)), .exit,
            .alu(.w64, .mov, dst: .r1, .immediate(40)), .alu(.w64, .mov, dst: .r3, .immediate(2)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]
        let both = both(program)
        #expect(both.jit == .value(42) && both.jit == both.interpreter, "\(both)")
    }

    /// Errors deep in local calls (an access out of bounds, a failing
    /// helper, an endless loop) unwind every frame, run after run, and stop
    /// at the interpreter's pc.
    public func errorsInsideLocalCallsUnwind(runs: Int = 2) throws {
        for stop in [Instruction.load(.double, dst: .r0, src: .r2, offset: 4096), .call(.helper(2)), .jump(offset: -1)] {
            let program: [Instruction] = [
                .alu(.w64, .mov, dst: .r6, .immediate(1)), .alu(.w64, .mov, dst: .r7, .immediate(2)), .call(.local(offset: 2)),
                .alu(.w64, .add, dst: .r0, .register(.r6)), .exit,
                // f at 5: recurses r1 times, then stops.
                .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 4),
                .alu(.w64, .sub, dst: .r1, .immediate(1)), .alu(.w64, .mov, dst: .r6, .immediate(99)),
                .call(.local(offset: -4)), .exit,
                stop, .exit,
            ]
            let jitProgram = try prepare(program, helpers: [Self.fail], limit: 10_000)
            for depth: UInt64 in [0, 3, 6] {
                let memory = GuestMemory(count: 64)
                let input = RunInput(r1: depth, r2: memory.address, regions: MemoryRegions([memory.region(.input)]))
                for _ in 0..<runs {
                    #expect(throws: ExecutionError.self) { try jitProgram.run(input) }
                }
            }
            let both = both(program, helpers: [Self.fail], limit: 10_000)
            if case .failure(let jitError) = both.jit, case .failure(let reference) = both.interpreter {
                #expect(jitError.pc == reference.pc, "\(jitError) vs \(reference)")
            } else {
                Issue.record("\(both)")
            }
        }
    }

    public func kfuncAndUnresolvedLoadsStopLikeTheInterpreter() {
        let kfunc = both([.alu(.w64, .mov, dst: .r0, .immediate(1)), .call(.kfunc(btfID: 12)), .exit])
        #expect(kfunc.jit == kfunc.interpreter)
        let map = both([.alu(.w64, .mov, dst: .r0, .immediate(1)), .loadImmediate64(dst: .r1, .mapByFD(3)), .exit])
        #expect(map.jit == map.interpreter)
        if case .failure(.unsupported(pc: 1, _)) = map.jit {} else { Issue.record("\(map.jit)") }
    }
}
