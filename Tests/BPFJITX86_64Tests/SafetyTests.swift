import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Foundation
import Testing

/// Bad programs stop with the interpreter's error; the host never crashes.
@Suite struct SafetyTests {
    @Test func outOfBoundsAccessesReportLikeTheInterpreter() {
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
            }
        }
        // A null pointer, and a wild one.
        programs.append([.mov64(.r1, 0), .load(.double, dst: .r0, src: .r1, offset: 0), .exit])
        programs.append([.ld64(.r1, 0xdead_beef_0000), .store(.word, dst: .r1, offset: 0, src: .r1), .exit])
        for program in programs {
            let both = bothEngines(program, memory: input)
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

    @Test func instructionLimitStopsLoops() throws {
        // An endless loop with a body, and a loop that ends within the limit.
        let endless: [Instruction] = [.alu(.w64, .add, dst: .r0, .immediate(1)), .alu(.w64, .xor, dst: .r1, .register(.r0)),
                                      .jump(offset: -3), .exit]
        let both = bothEngines(endless, limit: 100_000)
        #expect(both.jit == .failure(.instructionLimit(pc: 2, limit: 100_000)))
        if case .failure(.instructionLimit) = both.interpreter {} else { Issue.record("\(both.interpreter)") }
        let bounded: [Instruction] = [.mov64(.r1, 1000), .alu(.w64, .add, dst: .r0, .immediate(1)),
                                      .alu(.w64, .sub, dst: .r1, .immediate(1)), .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3), .exit]
        let ok = bothEngines(bounded, limit: 10_000)
        #expect(ok.jit == .value(1000) && ok.interpreter == .value(1000))
        // Endless recursion is stopped by the depth limit; endless calls in a loop by the guard.
        let calls: [Instruction] = [.call(.local(offset: 2)), .jump(offset: -2), .exit, .mov64(.r0, 1), .exit]
        #expect(bothEngines(calls, limit: 10_000).jit == .failure(.instructionLimit(pc: 1, limit: 10_000)))
    }

    @Test func uncheckedModeRunsVerifiedPrograms() {
        let program: [Instruction] = [.load(.word, dst: .r0, src: .r1, offset: 4), .mov64(.r2, 3),
                                      .atomic(.w64, .add(fetch: true), dst: .r1, offset: 8, src: .r2),
                                      .alu(.w64, .add, dst: .r0, .register(.r2)), .exit]
        let bytes: [UInt8] = [0, 0, 0, 0, 7, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0]
        let both = bothEngines(program, memory: bytes, checking: .unchecked)
        #expect(both.jit == .value(47) && both.jit == both.interpreter)
    }

    @Test func concurrentRunsFromSeveralThreads() throws {
        // FNV-1a over the input, a helper call and stack traffic, on 8 threads at once.
        let helper = Helper(id: 1, name: "twice", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            2 &* call.argument(1)
        }
        let program = try jit(BenchmarkPrograms.fnv1a + [], helpers: [helper])
        let reference = try Interpreter().prepare(Program(BenchmarkPrograms.fnv1a), configuration: EngineConfiguration(helpers: HelperRegistry([helper])))
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ thread) }
            let memory = GuestMemory(bytes: bytes)
            let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
            let expected = try? reference.run(input)
            for _ in 0..<500 where (try? program.run(input)) != expected {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }
}

import Synchronization

/// Programs shared by tests and the benchmark.
enum BenchmarkPrograms {
    /// FNV-1a over [r1, r1 + r2): r0 = hash.
    static let fnv1a: [Instruction] = [
        .ld64(.r0, 0xcbf2_9ce4_8422_2325),
        .ld64(.r4, 0x0000_0100_0000_01b3),
        .mov64(.r3, .r1), .alu(.w64, .add, dst: .r3, .register(.r2)),       // r3 = end
        .branch(.w64, .ge, dst: .r1, .register(.r3), offset: 5),            // while r1 < r3
        .load(.byte, dst: .r5, src: .r1, offset: 0),
        .alu(.w64, .xor, dst: .r0, .register(.r5)),
        .alu(.w64, .mul, dst: .r0, .register(.r4)),
        .alu(.w64, .add, dst: .r1, .immediate(1)),
        .jump(offset: -6),
        .exit,
    ]
}
