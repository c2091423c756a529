import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import BPFTestSuite
import Foundation
import Synchronization
import Testing

/// Bad programs stop with the interpreter's error, under the emulator too
/// (where a fault would also be caught, the image's own checks come first).
@Suite struct SafetyTests {
    @Test(arguments: Arm64Atomics.allCases)
    func outOfBoundsAccessesReportLikeTheInterpreter(_ atomics: Arm64Atomics) {
        let input = [UInt8](repeating: 0xab, count: 16)
        var programs: [[Instruction]] = []
        for size in AccessSize.allCases {
            // One byte past the end of the input, and just before it.
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes + 1)), .exit])
            programs.append([.load(size, dst: .r0, src: .r1, offset: -1), .exit])
            programs.append([.store(size, dst: .r1, offset: 16, src: .r1), .exit])
            programs.append([.storeImmediate(size, dst: .r1, offset: -8, imm: 1), .exit])
            programs.append([.loadSignExtend(size == .double ? .word : size, dst: .r0, src: .r1, offset: 100), .exit])
            // In bounds, as a control.
            programs.append([.load(size, dst: .r0, src: .r1, offset: Int16(16 - size.bytes)), .exit])
        }
        for width in [Width.w32, .w64] {
            for operation in AtomicOperation.all {
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 16, src: .r2), .exit])
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 1, src: .r2), .exit])
                programs.append([.mov64(.r2, 1), .atomic(width, operation, dst: .r1, offset: 8, src: .r2), .exit])
            }
        }
        // A null pointer, and a wild one.
        programs.append([.mov64(.r1, 0), .load(.double, dst: .r0, src: .r1, offset: 0), .exit])
        programs.append([.ld64(.r1, 0xdead_beef_0000), .store(.word, dst: .r1, offset: 0, src: .r1), .exit])
        for program in programs {
            let both = bothEngines(program, memory: input, engine: arm64(atomics))
            #expect(both.jit == both.interpreter, "\(program): \(both)")
        }
    }

    @Test func stackBoundsMatchTheInterpreter() {
        // Above the top of the stack, below its bottom (all eight frames), and inside.
        let cases: [(Int16, Bool)] = [(0, false), (-8, true), (-512, true), (-520, true), (-4096, true), (-4097, false), (8, false)]
        for (offset, inside) in cases {
            let program: [Instruction] = [.mov64(.r2, .r10), .alu(.w64, .add, dst: .r2, .immediate(Int32(offset))),
                                          .load(.double, dst: .r0, src: .r2, offset: 0), .exit]
            let both = bothEngines(program)
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
    @Test func frameAccessesOfEveryOffsetForm() {
        var program: [Instruction] = []
        for (k, offset) in [Int16(-8), -16, -264, -512, -3, -301].enumerated() {
            program.append(.load(.byte, dst: .r1, src: .r10, offset: offset))          // zero: the stack starts cleared
            program.append(.alu(.w64, .add, dst: .r0, .register(.r1)))
            program.append(.storeImmediate(.byte, dst: .r10, offset: offset, imm: Int32(k + 1)))
            program.append(.load(.byte, dst: .r1, src: .r10, offset: offset))
            program.append(.alu(.w64, .add, dst: .r0, .register(.r1)))
        }
        program.append(.exit)
        let both = bothEngines(program)
        #expect(both.jit == .value(21) && both.jit == both.interpreter, "\(both)")
    }

    @Test func instructionLimitStopsLoops() throws {
        let endless: [Instruction] = [.alu(.w64, .add, dst: .r0, .immediate(1)), .alu(.w64, .xor, dst: .r1, .register(.r0)),
                                      .jump(offset: -3), .exit]
        let both = bothEngines(endless, limit: 100_000)
        #expect(both.jit == .failure(.instructionLimit(pc: 2, limit: 100_000)))
        if case .failure(.instructionLimit) = both.interpreter {} else { Issue.record("\(both.interpreter)") }
        let bounded: [Instruction] = [.mov64(.r1, 1000), .alu(.w64, .add, dst: .r0, .immediate(1)),
                                      .alu(.w64, .sub, dst: .r1, .immediate(1)), .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3), .exit]
        let ok = bothEngines(bounded, limit: 10_000)
        #expect(ok.jit == .value(1000) && ok.interpreter == .value(1000))
        // Endless calls in a loop are stopped by the guard; a budget beyond 4095 is charged through x10.
        let calls: [Instruction] = [.call(.local(offset: 2)), .jump(offset: -2), .exit, .mov64(.r0, 1), .exit]
        #expect(bothEngines(calls, limit: 10_000).jit == .failure(.instructionLimit(pc: 1, limit: 10_000)))
        let longBody = [Instruction](repeating: .alu(.w64, .add, dst: .r0, .immediate(1)), count: 5000) + [.jump(offset: -5001), .exit]
        #expect(bothEngines(longBody, limit: 100_000).jit == .failure(.instructionLimit(pc: 5000, limit: 100_000)))
    }

    /// The emulator's own count of native instructions is a backstop behind
    /// the guard; a run that hits it still reports the BPF instruction limit.
    @Test func runsReportTheirNativeInstructionCount() throws {
        let program = try emulated(SamplePrograms.fnv1a.instructions)
        let memory = GuestMemory(bytes: Array(repeating: 7, count: 100))
        let run = try program.execute(RunInput(r1: memory.address, r2: 100, regions: MemoryRegions([memory.region(.input)])))
        #expect(run.value == SamplePrograms.fnv1a(Array(repeating: 7, count: 100)))
        #expect(run.instructionCount > 600 && run.instructionCount < 3000, "\(run.instructionCount)")
        #expect(program.nativeInstructionLimit > program.instructionLimit)
    }

    @Test func uncheckedModeRunsVerifiedPrograms() {
        let program: [Instruction] = [.load(.word, dst: .r0, src: .r1, offset: 4), .mov64(.r2, 3),
                                      .atomic(.w64, .add(fetch: true), dst: .r1, offset: 8, src: .r2),
                                      .alu(.w64, .add, dst: .r0, .register(.r2)), .exit]
        let bytes: [UInt8] = [0, 0, 0, 0, 7, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0]
        for atomics in Arm64Atomics.allCases {
            let both = bothEngines(program, memory: bytes, engine: arm64(atomics, checking: .unchecked))
            #expect(both.jit == .value(47) && both.jit == both.interpreter)
        }
        // Unchecked, a stray access is still stopped by the emulator, at its instruction.
        let stray = bothEngines([.mov64(.r0, 1), .load(.double, dst: .r0, src: .r1, offset: 4096), .exit], memory: bytes,
                                engine: arm64(checking: .unchecked))
        guard case .failure(.outOfBounds(pc: 1, _, 8, false)) = stray.jit else {
            Issue.record("\(stray.jit)")
            return
        }
    }

    @Test func concurrentRunsFromSeveralThreads() throws {
        let helper = Helper(id: 1, name: "twice", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            2 &* call.argument(1)
        }
        let instructions = SamplePrograms.fnv1a.instructions.dropLast() + [.mov64(.r1, .r0), .call(.helper(1)), .exit]
        let program = try emulated(Array(instructions), helpers: [helper])
        let reference = try Interpreter().prepare(Program(Array(instructions)), configuration: EngineConfiguration(helpers: HelperRegistry([helper])))
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ thread) }
            let memory = GuestMemory(bytes: bytes)
            let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
            let expected = try? reference.run(input)
            for _ in 0..<50 where (try? program.run(input)) != expected {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    @Test func nativeExecutionNeedsAnArm64Host() {
        #if arch(arm64)
        #expect(throws: Never.self) { try Arm64JIT(execution: .native).compileNative(Program([.mov64(.r0, 1), .exit])) }
        #else
        #expect(throws: EngineError.self) { try Arm64JIT(execution: .native).compileNative(Program([.mov64(.r0, 1), .exit])) }
        #endif
    }
}
