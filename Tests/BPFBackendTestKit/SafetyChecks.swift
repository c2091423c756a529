import BPFInterpreter
import BPFISA
import BPFRuntime
import BPFTestSuite
import Foundation
import Synchronization
import Testing

/// Bad programs as every JIT backend must stop them, with the interpreter's
/// error: accesses out of bounds (loads, stores, atomics, null and wild
/// pointers), the stack's bounds, frame accesses of every offset form, the
/// instruction limit on loops and calls, unchecked code on verified
/// programs, and runs from several threads at once. One body per check;
/// each backend's `SafetyTests` runs them on its engine (in each
/// configuration that matters) and keeps only what is its own.
public struct SafetyChecks: Sendable {
    public let engine: any ExecutionEngine
    /// The interpreter of the engine's byte order.
    public let reference: Interpreter
    /// Whether a failed access must name the interpreter's address too. A
    /// 32-bit core sees guest addresses, which map back to host addresses
    /// only inside a window of the run's memory: there the pc, size and
    /// direction must agree, and the address is left out.
    public let comparesAddresses: Bool

    public init(engine: any ExecutionEngine, reference: Interpreter = Interpreter(), comparesAddresses: Bool = true) {
        self.engine = engine
        self.reference = reference
        self.comparesAddresses = comparesAddresses
    }

    func both(_ instructions: [Instruction], memory: [UInt8] = [], helpers: [Helper] = [],
              limit: UInt64 = 100_000) -> (jit: Outcome, interpreter: Outcome) {
        runOnBoth(instructions, memory: memory, helpers: helpers, limit: limit, engine: engine, reference: reference)
    }

    /// An outcome as this engine's runs are compared: without the address
    /// of a failed access unless `comparesAddresses`.
    func comparable(_ outcome: Outcome) -> String {
        comparesAddresses ? outcome.description : Self.withoutAddress(outcome)
    }

    /// An outcome without the address of a failed access (pc, size and
    /// direction; an unaligned atomic by its pc): how runs on a 32-bit core
    /// compare with the interpreter's.
    public static func withoutAddress(_ outcome: Outcome) -> String {
        switch outcome {
        case .failure(.outOfBounds(let pc, _, let size, let write)): "out of bounds at \(pc), \(size) bytes, write \(write)"
        case .failure(.unsupported(let pc, let what)) where what.contains("unaligned"): "unaligned atomic at \(pc)"
        default: outcome.description
        }
    }

    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }

    public func outOfBoundsAccessesReportLikeTheInterpreter() {
        let input = [UInt8](repeating: 0xab, count: 16)
        var programs: [[Instruction]] = []
        for size in AccessSize.allCases {
            // One byte past the end of the input, and just before it.
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes + 1)), .exit])
            programs.append([.load(size, dst: .r0, src: .r1, offset: -1), .exit])
            programs.append([.store(size, dst: .r1, offset: 16, src: .r1), .exit])
            programs.append([.storeImmediate(size, dst: .r1, offset: -8, imm: 1), .exit])
            programs.append([.loadSignExtend(size == .double ? .word : size, dst: .r0, src: .r1, offset: 100), .exit])
            // A page beyond the input.
            programs.append([.load(size, dst: .r0, src: .r1, offset: 4096), .exit])
            // In bounds, as a control, and unaligned.
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes)), .exit])
            programs.append([.loadImmediate64(dst: .r2, .value(0x0102_0304_0506_0708)), .store(size, dst: .r1, offset: 1, src: .r2),
                             .load(size, dst: .r0, src: .r1, offset: 1), .exit])
        }
        for width in [Width.w32, .w64] {
            for operation in AtomicOperation.all {
                // Past the end, misaligned, and in bounds (with what it left in memory).
                for offset: Int16 in [16, 1, 8] {
                    programs.append([Self.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: offset, src: .r2),
                                     .load(.double, dst: .r0, src: .r1, offset: 8), .alu(.w64, .add, dst: .r0, .register(.r2)), .exit])
                }
            }
        }
        // A null pointer, and a wild one.
        programs.append([Self.mov64(.r1, 0), .load(.double, dst: .r0, src: .r1, offset: 0), .exit])
        programs.append([.loadImmediate64(dst: .r1, .value(0xdead_beef_0000)), .store(.word, dst: .r1, offset: 0, src: .r1), .exit])
        for program in programs {
            let both = both(program, memory: input)
            #expect(comparable(both.jit) == comparable(both.interpreter), "\(program): \(both)")
        }
    }

    public func stackBoundsMatchTheInterpreter() {
        // Above the top of the stack, below its bottom (all eight frames), and inside.
        let cases: [(Int16, Bool)] = [(0, false), (-8, true), (-512, true), (-520, true), (-4096, true), (-4097, false), (8, false)]
        for (offset, inside) in cases {
            let program: [Instruction] = [.alu(.w64, .mov, dst: .r2, .register(.r10)), .alu(.w64, .add, dst: .r2, .immediate(Int32(offset))),
                                          .load(.double, dst: .r0, src: .r2, offset: 0), .exit]
            let both = both(program)
            if inside {
                #expect(both.jit == .value(0) && both.interpreter == .value(0))
            } else {
                // Stack addresses differ between engines; the pc, size and direction must not.
                guard case .failure(.outOfBounds(let pc, _, let size, let write)) = both.jit,
                      case .failure(.outOfBounds(pc, _, size, write)) = both.interpreter else {
                    Issue.record("offset \(offset): \(both)")
                    continue
                }
            }
        }
    }

    /// Frame-relative accesses at every offset form (scaled, unscaled, register) start from a zeroed stack.
    public func frameAccessesOfEveryOffsetForm() {
        var program: [Instruction] = []
        for (k, offset) in [Int16(-8), -16, -264, -512, -3, -301].enumerated() {
            program.append(.load(.byte, dst: .r1, src: .r10, offset: offset))          // zero: the stack starts cleared
            program.append(.alu(.w64, .add, dst: .r0, .register(.r1)))
            program.append(.storeImmediate(.byte, dst: .r10, offset: offset, imm: Int32(k + 1)))
            program.append(.load(.byte, dst: .r1, src: .r10, offset: offset))
            program.append(.alu(.w64, .add, dst: .r0, .register(.r1)))
        }
        program.append(.exit)
        let both = both(program)
        #expect(both.jit == .value(21) && both.jit == both.interpreter, "\(both)")
    }

    /// The runaway guard: an endless loop with a body stops at its backward
    /// jump, a loop that ends within the limit finishes, endless calls in a
    /// loop stop at the loop's jump, and a body longer than an immediate
    /// budget charge still stops at its jump.
    public func instructionLimitStopsLoops() {
        let endless: [Instruction] = [.alu(.w64, .add, dst: .r0, .immediate(1)), .alu(.w64, .xor, dst: .r1, .register(.r0)),
                                      .jump(offset: -3), .exit]
        let both = both(endless, limit: 100_000)
        #expect(both.jit == .failure(.instructionLimit(pc: 2, limit: 100_000)))
        if case .failure(.instructionLimit) = both.interpreter {} else { Issue.record("\(both.interpreter)") }
        let bounded: [Instruction] = [Self.mov64(.r1, 1000), .alu(.w64, .add, dst: .r0, .immediate(1)),
                                      .alu(.w64, .sub, dst: .r1, .immediate(1)), .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3), .exit]
        let ok = self.both(bounded, limit: 10_000)
        #expect(ok.jit == .value(1000) && ok.interpreter == .value(1000))
        let calls: [Instruction] = [.call(.local(offset: 2)), .jump(offset: -2), .exit, Self.mov64(.r0, 1), .exit]
        #expect(self.both(calls, limit: 10_000).jit == .failure(.instructionLimit(pc: 1, limit: 10_000)))
        let longBody = [Instruction](repeating: .alu(.w64, .add, dst: .r0, .immediate(1)), count: 5000) + [.jump(offset: -5001), .exit]
        #expect(self.both(longBody, limit: 100_000).jit == .failure(.instructionLimit(pc: 5000, limit: 100_000)))
    }

    /// A verified program's accesses, run by `unchecked` (this backend with
    /// memory checking off), give the interpreter's result.
    public static func uncheckedModeRunsVerifiedPrograms(_ unchecked: any ExecutionEngine) {
        let program: [Instruction] = [.load(.word, dst: .r0, src: .r1, offset: 4), mov64(.r2, 3),
                                      .atomic(.w64, .add(fetch: true), dst: .r1, offset: 8, src: .r2),
                                      .alu(.w64, .add, dst: .r0, .register(.r2)), .exit]
        let bytes: [UInt8] = [0, 0, 0, 0, 7, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0]
        let both = runOnBoth(program, memory: bytes, engine: unchecked)
        #expect(both.jit == .value(47) && both.jit == both.interpreter)
    }

    /// FNV-1a over the input, then a helper call on its hash, from
    /// `threads` threads at once, `runs` runs each, on one prepared program.
    public func concurrentRunsFromSeveralThreads(threads: Int, runs: Int) throws {
        let helper = Helper(id: 1, name: "twice", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            2 &* call.argument(1)
        }
        let instructions = Array(SamplePrograms.fnv1a.instructions.dropLast())
            + [.alu(.w64, .mov, dst: .r1, .register(.r0)), .call(.helper(1)), .exit]
        let configuration = EngineConfiguration(helpers: HelperRegistry([helper]))
        let program = try engine.prepare(Program(instructions), configuration: configuration)
        let reference = try Interpreter().prepare(Program(instructions), configuration: configuration)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ thread) }
            let memory = GuestMemory(bytes: bytes)
            let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
            let expected = try? reference.run(input)
            for _ in 0..<runs where (try? program.run(input)) != expected {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }
}
