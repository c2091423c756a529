import BPFBackendTestKit
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

/// Helper calls (near and far), failures, local calls and their frames.
@Suite struct CallTests {
    static let sum = Helper(id: 1, name: "sum", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
        call.argument(1) &+ 2 &* call.argument(2) &+ 3 &* call.argument(3) &+ 4 &* call.argument(4) &+ 5 &* call.argument(5)
    }
    static let fail = Helper(id: 2, name: "fail", prototype: HelperPrototype([], returns: .void)) { _ throws(HelperError) in
        throw HelperError("refused")
    }
    static let readStack = Helper(id: 3, name: "read", prototype: HelperPrototype([.pointer(readOnly: true)], returns: .scalar(bits: 64))) { call throws(HelperError) in
        try call.memory.load(UInt64.self, at: call.argument(1))
    }

    /// r1..r5 = 1..5; r0 = sum(...); r0 += r1 + r5 (kept across the call).
    static let callSum: [Instruction] = [
        .mov64(.r1, 1), .mov64(.r2, 2), .mov64(.r3, 3), .mov64(.r4, 4), .mov64(.r5, 5),
        .call(.helper(1)),
        .alu(.w64, .add, dst: .r0, .register(.r1)), .alu(.w64, .add, dst: .r0, .register(.r5)), .exit,
    ]
    static let expectedSum: UInt64 = 1 + 4 + 9 + 16 + 25 + 1 + 5

    @Test func nearHelperCallIsDirect() throws {
        let memory = TestCodeMemory(.near(JITHostRoutines.callHelperAddress))
        let program = try jit(Self.callSum, helpers: [Self.sum], memory: memory)
        #expect(program.image.statistics.directCalls == 1 && program.image.statistics.indirectCalls == 0,
                 "image at 0x\(String(program.image.address, radix: 16)), helper routine at 0x\(String(JITHostRoutines.callHelperAddress, radix: 16)): \(program.image.statistics)")
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == Self.expectedSum)
    }

    @Test func farHelperCallIsIndirect() throws {
        let memory = TestCodeMemory(.far(JITHostRoutines.callHelperAddress))
        let program = try jit(Self.callSum, helpers: [Self.sum], memory: memory)
        let distance = Int64(bitPattern: UInt64(program.image.address)) - Int64(bitPattern: UInt64(JITHostRoutines.callHelperAddress))
        #expect(abs(distance) > Int64(Int32.max))
        #expect(program.image.statistics.directCalls == 0 && program.image.statistics.indirectCalls == 1)
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == Self.expectedSum)
    }

    @Test func helperResultsMatchTheInterpreter() {
        let both = bothEngines(Self.callSum, helpers: [Self.sum])
        #expect(both.jit == both.interpreter && both.jit == .value(Self.expectedSum))
    }

    @Test func failingHelperStopsTheRunAtItsPc() {
        let program: [Instruction] = [.mov64(.r6, 7), .mov64(.r0, 1), .call(.helper(2)), .mov64(.r0, 5), .exit]
        let both = bothEngines(program, helpers: [Self.fail])
        #expect(both.jit == .failure(.helperFailed(pc: 2, id: 2, message: "refused")))
        #expect(both.jit == both.interpreter)
    }

    @Test func unknownHelperIsRejectedAtPrepare() {
        #expect(throws: EngineError.self) { try jit([.call(.helper(77)), .exit]) }
    }

    @Test func helperReadsTheStack() {
        let program: [Instruction] = [
            .ld64(.r1, 0x1122_3344_5566_7788), .store(.double, dst: .r10, offset: -16, src: .r1),
            .mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-16)), .call(.helper(3)), .exit,
        ]
        let both = bothEngines(program, helpers: [Self.readStack])
        #expect(both.jit == .value(0x1122_3344_5566_7788) && both.jit == both.interpreter)
    }

    @Test func callThroughRegister() {
        let program: [Instruction] = [.mov64(.r1, 1), .mov64(.r2, 0), .mov64(.r3, 0), .mov64(.r4, 0), .mov64(.r5, 0),
                                      .mov64(.r7, 1), .call(.register(.r7)), .exit]
        let both = bothEngines(program, helpers: [Self.sum])
        #expect(both.jit == .value(1) && both.jit == both.interpreter)
        let unknown: [Instruction] = [.mov64(.r7, 9), .call(.register(.r7)), .exit]
        let missing = bothEngines(unknown, helpers: [Self.sum])
        #expect(missing.jit == .failure(.unknownHelper(pc: 1, id: 9)) && missing.jit == missing.interpreter)
        let huge: [Instruction] = [.ld64(.r7, 1 << 40), .call(.register(.r7)), .exit]
        let notANumber = bothEngines(huge, helpers: [Self.sum])
        #expect(notANumber.jit == notANumber.interpreter)
    }

    /// f(n) = n + f(n - 1), f(0) = 0, recursing into instruction 0 itself.
    static let recursion: [Instruction] = [
        .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 5),
        .mov64(.r6, .r1),
        .alu(.w64, .sub, dst: .r1, .immediate(1)),
        .call(.local(offset: -4)),
        .alu(.w64, .add, dst: .r0, .register(.r6)),
        .exit,
        .mov64(.r0, 0),
        .exit,
    ]

    @Test func recursionIntoTheEntryFunctionAndTheDepthLimit() throws {
        let program = try jit(Self.recursion)
        for n in 0...7 {
            #expect(try program.run(RunInput(r1: UInt64(n), regions: MemoryRegions())) == UInt64(n * (n + 1) / 2))
        }
        #expect(throws: ExecutionError.callDepthExceeded(pc: 3, limit: ExecutionLimits.maxCallFrames)) {
            try program.run(RunInput(r1: 8, regions: MemoryRegions()))
        }
    }

    @Test func localCallsKeepR6ToR9AndHaveTheirOwnFrames() {
        // main: r6..r9 = 6..9, *(r10-8) = 100; call f; r0 += r6 + r7 + r8 + r9 + *(r10-8)
        // f: clobbers r6..r9, writes its own *(r10-8), returns 1000 + *(r10-8) of its frame.
        let program: [Instruction] = [
            .mov64(.r6, 6), .mov64(.r7, 7), .mov64(.r8, 8), .mov64(.r9, 9),
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 100),
            .call(.local(offset: 7)),
            .alu(.w64, .add, dst: .r0, .register(.r6)), .alu(.w64, .add, dst: .r0, .register(.r7)),
            .alu(.w64, .add, dst: .r0, .register(.r8)), .alu(.w64, .add, dst: .r0, .register(.r9)),
            .load(.double, dst: .r1, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .register(.r1)),
            .exit,
            // f at 13
            .mov64(.r6, 60), .mov64(.r7, 70), .mov64(.r8, 80), .mov64(.r9, 90),
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 5),
            .load(.double, dst: .r0, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .immediate(1000)),
            .exit,
        ]
        let both = bothEngines(program)
        #expect(both.jit == .value(1005 + 30 + 100) && both.jit == both.interpreter, "\(both)")
    }

    /// Errors deep in local calls unwind every frame and leave the host intact.
    @Test func errorsInsideLocalCallsUnwind() throws {
        // f recurses r1 times, then reads out of bounds / calls a failing helper / runs forever.
        for stop in [Instruction.load(.double, dst: .r0, src: .r2, offset: 4096),
                     .call(.helper(2)), .jump(offset: -1)] {
            let program: [Instruction] = [
                .mov64(.r6, 1), .mov64(.r7, 2), .call(.local(offset: 2)),
                .alu(.w64, .add, dst: .r0, .register(.r6)), .exit,
                // f at 5
                .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 4),
                .alu(.w64, .sub, dst: .r1, .immediate(1)), .mov64(.r6, 99),
                .call(.local(offset: -4)), .exit,
                stop, .exit,
            ]
            for depth: UInt64 in [0, 3, 6] {
                let jitProgram = try jit(program, helpers: [Self.fail], limit: 10_000)
                let memory = GuestMemory(count: 64)
                let input = RunInput(r1: depth, r2: memory.address, regions: MemoryRegions([memory.region(.input)]))
                for _ in 0..<3 {
                    #expect(throws: ExecutionError.self) { try jitProgram.run(input) }
                }
                let both = bothEngines(program, helpers: [Self.fail], limit: 10_000)
                if case .failure(let jitError) = both.jit, case .failure(let reference) = both.interpreter {
                    #expect(jitError.pc == reference.pc)
                } else {
                    Issue.record("\(both)")
                }
            }
        }
    }

    @Test func kfuncAndUnresolvedLoadsStopLikeTheInterpreter() {
        let kfunc = bothEngines([.mov64(.r0, 1), .call(.kfunc(btfID: 12)), .exit])
        #expect(kfunc.jit == kfunc.interpreter)
        let map = bothEngines([.mov64(.r0, 1), .loadImmediate64(dst: .r1, .mapByFD(3)), .exit])
        #expect(map.jit == map.interpreter)
        if case .failure(.unsupported(pc: 1, _)) = map.jit {} else { Issue.record("\(map.jit)") }
    }
}
