import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// Per-function frames and bounded local calls (`JITFramePlan`): chains of
/// 1–8 frames with and without stack get the sum of their frames, no
/// run-time depth check and no stack clearing; recursion, chains too deep,
/// reads of stale stack bytes and stack pointers that might reach other
/// frames keep the fixed scheme. Every result is the interpreter's.
@Suite struct FrameTests {
    /// A function's instruction, or a call of function `k` (linked by `link`).
    enum Piece { case op(Instruction), call(Int) }

    /// Lays the functions out one after another (no 64-bit loads: one slot each).
    static func link(_ functions: [[Piece]]) -> Program {
        var entries: [Int] = [], next = 0
        for function in functions { entries.append(next); next += function.count }
        var instructions: [Instruction] = []
        for function in functions {
            for piece in function {
                switch piece {
                case .op(let instruction): instructions.append(instruction)
                case .call(let k): instructions.append(.call(.local(offset: Int32(entries[k] - instructions.count - 1))))
                }
            }
        }
        return Program(instructions)
    }

    static func configuration(_ proofs: ProgramProofs? = nil, helpers: [Helper] = []) -> EngineConfiguration {
        EngineConfiguration(helpers: HelperRegistry(helpers), instructionLimit: 100_000, proofs: proofs)
    }

    static func compile(_ program: Program, _ proofs: ProgramProofs? = nil, helpers: [Helper] = []) throws -> NativeProgram {
        try X86_64JIT().compile(program, configuration: configuration(proofs, helpers: helpers))
    }

    /// Both engines on the same input (r1: a 64-byte buffer, r2: its size);
    /// the JIT runs three times, to see that every run (errors included)
    /// leaves the host as it found it.
    static func outcomes(_ program: Program, _ proofs: ProgramProofs? = nil,
                         helpers: [Helper] = []) -> (jit: Outcome, interpreter: Outcome) {
        let memory = GuestMemory(count: 64)
        func outcome(_ engine: some ExecutionEngine, runs: Int) -> Outcome {
            let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
            let prepared: any PreparedProgram
            do { prepared = try engine.prepare(program, configuration: configuration(proofs, helpers: helpers)) } catch {
                return .notPrepared("\(error)")
            }
            var last = Outcome.notPrepared("no run")
            for _ in 0..<runs {
                memory.write([UInt8](repeating: 0, count: 64), at: 0)
                do { last = .value(try prepared.run(input)) } catch { last = .failure(error) }
            }
            return last
        }
        return (outcome(X86_64JIT(), runs: 3), outcome(Interpreter(), runs: 1))
    }

    static func listing(_ image: JITImage) -> String {
        guard let disassembler = try? NativeDisassembler(.x86_64) else { return "(no disassembler)" }
        return disassembler.disassemble(image.bytes, address: UInt64(image.address)).map(\.text).joined(separator: "\n")
    }

    /// The depth check's compare (`cmp r11, 0x400`) and the stack clear
    /// (`rep stosq`, or the stores of a zeroed r11) in a listing.
    static func hasDepthCheck(_ text: String) -> Bool { text.contains("cmp r11, 0x400") }
    static func hasStackClear(_ text: String) -> Bool {
        text.contains("rep stosq") || text.contains("xor r11d, r11d")
    }

    /// The offset of function `i`'s second stack slot.
    static func slot(_ i: Int) -> Int16 { -8 * Int16(i % 4 + 2) }

    /// A chain of `n` functions, function i calling i + 1. One with stack
    /// writes two slots (the same -8 in every function, and a deeper one
    /// that varies), calls, and folds both slots, which must still hold its
    /// own values, into r0; one without stack never names r10.
    static func chain(_ n: Int, stack: (Int) -> Bool) -> Program {
        link((0..<n).map { i -> [Piece] in
            var f: [Piece] = []
            if stack(i) {
                f.append(.op(.storeImmediate(.double, dst: .r10, offset: -8, imm: Int32(100 + i))))
                f.append(.op(.storeImmediate(.double, dst: .r10, offset: slot(i), imm: Int32(7 * i + 1))))
            }
            f.append(i + 1 < n ? .call(i + 1) : .op(.mov64(.r0, 1)))
            if stack(i) {
                f.append(.op(.load(.double, dst: .r3, src: .r10, offset: -8)))
                f.append(.op(.alu(.w64, .mul, dst: .r0, .immediate(3))))
                f.append(.op(.alu(.w64, .add, dst: .r0, .register(.r3))))
                f.append(.op(.load(.double, dst: .r3, src: .r10, offset: slot(i))))
                f.append(.op(.alu(.w64, .add, dst: .r0, .register(.r3))))
            } else {
                f.append(.op(.alu(.w64, .mul, dst: .r0, .immediate(5))))
                f.append(.op(.alu(.w64, .add, dst: .r0, .immediate(Int32(i)))))
            }
            f.append(.op(.exit))
            return f
        })
    }

    /// What `chain` computes.
    static func chainValue(_ n: Int, stack: (Int) -> Bool) -> UInt64 {
        var r0: UInt64 = 1
        for i in stride(from: n - 1, through: 0, by: -1) {
            r0 = stack(i) ? r0 &* 3 &+ UInt64(100 + i) &+ UInt64(7 * i + 1) : r0 &* 5 &+ UInt64(i)
        }
        return r0
    }

    static let patterns: [(name: String, stack: @Sendable (Int) -> Bool)] = [
        ("all", { _ in true }), ("none", { _ in false }), ("even", { $0 % 2 == 0 }), ("odd", { $0 % 2 == 1 }),
        ("last", { $0 == 7 }),
    ]

    @Test func chainsOfOneToEightFramesGetTheSumOfTheirFrames() throws {
        for pattern in Self.patterns {
            for n in 1...ExecutionLimits.maxCallFrames {
                let program = Self.chain(n, stack: pattern.stack)
                let both = Self.outcomes(program)
                #expect(both.jit == both.interpreter && both.jit == .value(Self.chainValue(n, stack: pattern.stack)),
                        "\(pattern.name), \(n) frames: \(both)")
                let compiled = try Self.compile(program)
                let frames = (0..<n).map { pattern.stack($0) ? (-Int(Self.slot($0)) + 15) & ~15 : 0 }
                #expect(compiled.stackSize == frames.reduce(0, +), "\(pattern.name), \(n) frames")
                let statistics = compiled.image.statistics
                #expect(statistics.callDepthChecks == 0 && statistics.clearedStackBytes == 0, "\(statistics)")
                let text = Self.listing(compiled.image)
                #expect(!Self.hasDepthCheck(text) && !Self.hasStackClear(text), "\(pattern.name), \(n):\n\(text)")
                if frames.allSatisfy({ $0 == 0 }) { #expect(!text.contains("rbp"), "\(text)") }
            }
        }
    }

    /// A callee moves rbp by its caller's frame only: a chain whose middle
    /// functions have no stack still gives the last one a frame below the
    /// first's, and the first's slots survive.
    @Test func frameFreeFunctionsMoveNothing() throws {
        let program = Self.chain(5, stack: { $0 == 0 || $0 == 4 })
        let compiled = try Self.compile(program)
        #expect(compiled.stackSize == 16 + 16)
        let text = Self.listing(compiled.image)
        #expect(text.components(separatedBy: "sub rbp, 0x10").count == 2, "\(text)")   // only function 0's call
        #expect(!text.contains("sub rbp, 0x200"))
        let both = Self.outcomes(program)
        #expect(both.jit == both.interpreter && both.jit == .value(Self.chainValue(5, stack: { $0 == 0 || $0 == 4 })))
    }

    /// Nine frames cannot all exist: the depth check stays at every call and
    /// the run fails at the same call as the interpreter's.
    @Test func chainsTooDeepKeepTheDepthCheck() throws {
        let program = Self.chain(9, stack: { _ in true })
        let compiled = try Self.compile(program)
        #expect(compiled.image.statistics.callDepthChecks == 8)
        #expect(compiled.stackSize == ExecutionLimits.maxCallFrames * ExecutionLimits.stackSizePerFrame)
        #expect(Self.hasDepthCheck(Self.listing(compiled.image)))
        let both = Self.outcomes(program)
        #expect(both.jit == both.interpreter, "\(both)")
        if case .failure(.callDepthExceeded(_, let limit)) = both.jit { #expect(limit == 8) } else { Issue.record("\(both)") }
    }

    /// Recursion keeps the depth check and the fixed frames, and stops with
    /// `callDepthExceeded` where the interpreter does.
    @Test func recursionKeepsTheDepthCheck() throws {
        // f(n) = n + f(n - 1) with a frame slot, from a main that calls f(r2 = 0..9).
        let f: [Piece] = [
            .op(.branch(.w64, .eq, dst: .r1, .immediate(0), offset: 8)),
            .op(.store(.double, dst: .r10, offset: -8, src: .r1)),
            .op(.alu(.w64, .sub, dst: .r1, .immediate(1))),
            .call(1),
            .op(.load(.double, dst: .r1, src: .r10, offset: -8)),
            .op(.alu(.w64, .add, dst: .r0, .register(.r1))),
            .op(.exit), .op(.exit), .op(.exit),
            .op(.mov64(.r0, 0)), .op(.exit),
        ]
        for n in 0...9 {
            let program = Self.link([[.op(.mov64(.r1, Int32(n))), .call(1), .op(.exit)], f])
            let compiled = try Self.compile(program)
            #expect(compiled.image.statistics.callDepthChecks == 2)
            #expect(compiled.stackSize == 4096)
            #expect(Self.hasDepthCheck(Self.listing(compiled.image)))
            let both = Self.outcomes(program)
            #expect(both.jit == both.interpreter, "n = \(n): \(both)")
            if n <= 6 { #expect(both.jit == .value(UInt64(n * (n + 1) / 2))) }
            if n >= 7 {
                if case .failure(.callDepthExceeded) = both.jit {} else { Issue.record("n = \(n): \(both)") }
            }
        }
        let recursion = try Self.compile(Program(CallTests.recursion))
        #expect(recursion.image.statistics.callDepthChecks == 1)
    }

    /// g reads a slot it never wrote: the interpreter sees what f, called
    /// before it at the same depth, left there. The fixed frames stay (the
    /// depth check goes: the calls are bounded), and so does the clear.
    @Test func staleStackReadsKeepTheFixedFrames() throws {
        let program = Self.link([
            [.call(1), .call(2), .op(.exit)],
            [.op(.storeImmediate(.double, dst: .r10, offset: -8, imm: 42)), .op(.mov64(.r0, 0)), .op(.exit)],
            [.op(.load(.double, dst: .r0, src: .r10, offset: -8)), .op(.exit)],
        ])
        let compiled = try Self.compile(program)
        #expect(compiled.stackSize == 4096 && compiled.image.statistics.callDepthChecks == 0)
        #expect(compiled.image.statistics.clearedStackBytes == 4096 && Self.hasStackClear(Self.listing(compiled.image)))
        let both = Self.outcomes(program)
        #expect(both.jit == both.interpreter && both.jit == .value(42), "\(both)")
        // One function reading an unwritten slot: the clear stays (the interpreter reads zero).
        let single = Program([.load(.double, dst: .r0, src: .r10, offset: -16), .exit])
        let one = try Self.compile(single)
        #expect(one.image.statistics.clearedStackBytes == 16)
        let result = Self.outcomes(single)
        #expect(result.jit == result.interpreter && result.jit == .value(0))
    }

    /// main: *(r10 - 16) = 7; f(r1 = r10 - 16) adds 5 through the pointer and
    /// returns the sum; main returns f's result plus its slot (24).
    static let pointerToCallerFrame = link([
        [.op(.storeImmediate(.double, dst: .r10, offset: -16, imm: 7)), .op(.mov64(.r1, .r10)),
         .op(.alu(.w64, .add, dst: .r1, .immediate(-16))), .call(1),
         .op(.load(.double, dst: .r1, src: .r10, offset: -16)), .op(.alu(.w64, .add, dst: .r0, .register(.r1))), .op(.exit)],
        [.op(.load(.double, dst: .r2, src: .r1, offset: 0)), .op(.alu(.w64, .add, dst: .r2, .immediate(5))),
         .op(.store(.double, dst: .r1, offset: 0, src: .r2)), .op(.mov64(.r0, .r2)), .op(.exit)],
    ])

    static func pointerProofs(initialized: Bool, depth: Int?) -> ProgramProofs {
        TestProofs.make(pointerToCallerFrame, terminates: true, maxInstructions: 20, registersInitialized: false,
                        stackReadsInitialized: initialized, stackDepth: depth)
    }

    @Test func aPointerToTheCallersFrameKeepsTheFixedFramesUnlessProven() throws {
        let program = Self.pointerToCallerFrame
        // Unverified: the callee's checked accesses could reach any frame.
        let plain = try Self.compile(program)
        #expect(plain.stackSize == 4096 && plain.image.statistics.checkedAccesses == 2)
        #expect(plain.image.statistics.callDepthChecks == 0)
        // Proven, with the depth: main's frame is 16 bytes, f has none.
        let cases: [(proofs: ProgramProofs, stack: Int, cleared: Int)] = [
            (Self.pointerProofs(initialized: true, depth: 16), 16, 16),   // cleared anyway: 64 bytes or less
            (Self.pointerProofs(initialized: true, depth: nil), 512, 0),
            (Self.pointerProofs(initialized: false, depth: 16), 4096, 4096),
        ]
        for (proofs, stack, cleared) in [(nil, 4096, 4096)] + cases {
            let compiled = try Self.compile(program, proofs)
            #expect(compiled.stackSize == stack && compiled.image.statistics.clearedStackBytes == cleared)
            #expect(compiled.image.statistics.callDepthChecks == 0)
            let both = Self.outcomes(program, proofs)
            #expect(both.jit == both.interpreter && both.jit == .value(24), "\(stack): \(both)")
        }
    }

    /// One frame whose pointer goes to a helper: without a proven depth the
    /// helper might be handed a pointer beyond the frame, which the
    /// interpreter's eight frames admit, so all of them are kept (cleared
    /// unless reads are proven initialized); with the depth, the proven
    /// depth and no clear.
    @Test func provenStackDepthSizesOneFrame() throws {
        let read = CallTests.readStack
        let program = Program([
            .storeImmediate(.double, dst: .r10, offset: -16, imm: 0x1234), .mov64(.r1, .r10),
            .alu(.w64, .add, dst: .r1, .immediate(-16)), .call(.helper(3)), .exit,
        ])
        func proofs(_ initialized: Bool, _ depth: Int?) -> ProgramProofs {
            TestProofs.make(program, terminates: true, maxInstructions: 10, registersInitialized: false,
                            stackReadsInitialized: initialized, stackDepth: depth)
        }
        let cases: [(ProgramProofs?, Int, Int)] = [
            (nil, 4096, 4096), (proofs(false, nil), 4096, 4096), (proofs(true, nil), 4096, 0),
            (proofs(false, 16), 16, 16), (proofs(true, 16), 16, 16), (proofs(true, 40), 48, 48),   // up to 64 bytes: cleared anyway
            (proofs(true, 4096), 4096, 0),   // a claim beyond one frame is ignored
        ]
        for (proofs, stack, cleared) in cases {
            let compiled = try Self.compile(program, proofs, helpers: [read])
            #expect(compiled.stackSize == stack && compiled.image.statistics.clearedStackBytes == cleared,
                    "\(stack): \(compiled.stackSize), \(compiled.image.statistics)")
            let text = Self.listing(compiled.image)
            #expect(Self.hasStackClear(text) == (cleared > 0), "\(text)")
            let both = Self.outcomes(program, proofs, helpers: [read])
            #expect(both.jit == both.interpreter && both.jit == .value(0x1234), "\(both)")
        }
    }

    /// Errors three frames down unwind through per-function frames: the
    /// same error as the interpreter's, run after run.
    @Test func errorsUnwindPerFunctionFrames() throws {
        for stop in [Instruction.load(.double, dst: .r0, src: .r1, offset: 4096), .call(.helper(2)), .jump(offset: -1)] {
            let program = Self.link([
                [.op(.storeImmediate(.double, dst: .r10, offset: -8, imm: 1)), .op(.mov64(.r6, 6)), .call(1),
                 .op(.load(.double, dst: .r0, src: .r10, offset: -8)), .op(.exit)],
                [.op(.storeImmediate(.double, dst: .r10, offset: -32, imm: 2)), .op(.mov64(.r7, 7)), .call(2),
                 .op(.load(.double, dst: .r0, src: .r10, offset: -32)), .op(.exit)],
                [.op(.mov64(.r8, 8)), .op(stop), .op(.exit)],
            ])
            let compiled = try Self.compile(program, helpers: [CallTests.fail])
            #expect(compiled.stackSize == 16 + 32 && compiled.image.statistics.callDepthChecks == 0)
            let both = Self.outcomes(program, helpers: [CallTests.fail])
            // The runaway guard stops a loop at its jump, after a count of its own: compare where.
            if case .failure(let jitError) = both.jit, case .failure(let reference) = both.interpreter {
                #expect(jitError.pc == reference.pc, "\(stop): \(both)")
                if case .jump = stop {} else { #expect(jitError == reference, "\(stop): \(both)") }
            } else {
                Issue.record("\(stop): \(both)")
            }
        }
    }

    /// The shape of bench/local_calls.c: no stack anywhere, three levels of
    /// calls. Proven to end in time, it needs no frame, no run context.
    @Test func callsWithoutStackOrGuardNeedNoContext() throws {
        let program = Self.chain(3, stack: { _ in false })
        let proofs = TestProofs.make(program, terminates: true, maxInstructions: 20, registersInitialized: false)
        let compiled = try Self.compile(program, proofs)
        #expect(compiled.stackSize == 0 && !compiled.usesRunContext)
        let text = Self.listing(compiled.image)
        #expect(!text.contains("rbp") && !text.contains("r12"), "\(text)")
        let both = Self.outcomes(program, proofs)
        #expect(both.jit == both.interpreter && both.jit == .value(Self.chainValue(3, stack: { _ in false })))
    }
}
