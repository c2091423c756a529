import BPFISA
import BPFInterpreter
import BPFRuntime
import BPFTestSuite
import Dispatch
import Synchronization
import Testing

/// One prepared program, many threads.
@Suite struct ConcurrencyTests {
    @Test func fnv1aMatchesSwift() throws {
        let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let prepared = try Interpreter().prepare(SamplePrograms.fnv1a, configuration: EngineConfiguration())
        let memory = GuestMemory(bytes: bytes)
        #expect(try Harness().run(prepared, memory: memory) == SamplePrograms.fnv1a(bytes))
        #expect(try Harness().run(prepared, memory: GuestMemory(count: 0)) == SamplePrograms.fnv1a([]))
    }

    /// Eight threads hash different inputs with the same prepared program,
    /// using their stacks at the same time.
    @Test func concurrentRunsGiveCorrectResults() throws {
        // Hash the input, then push every byte through the stack (store and
        // reload at [r10-8]) so that concurrent runs sharing a stack would collide.
        let program = Program([
            Asm.lddw(.r0, 0xcbf2_9ce4_8422_2325), Asm.lddw(.r3, 0x100_0000_01b3),
            Asm.mov(.r4, .r1), Asm.alu64(.add, .r4, .r2),
            Asm.jmp(.ge, .r1, .r4, 7),                              // loop: 6 -> 14
            .load(.byte, dst: .r5, src: .r1, offset: 0),
            .store(.double, dst: .r10, offset: -8, src: .r5),
            .load(.double, dst: .r6, src: .r10, offset: -8),
            Asm.alu64(.xor, .r0, .r6), Asm.alu64(.mul, .r0, .r3),
            Asm.alu64(.add, .r1, 1), .jump(offset: -8),             // 13 -> 6
            .exit,                                                   // 14
        ])
        let prepared = try Interpreter().prepare(program, configuration: EngineConfiguration())
        let mismatches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let bytes = (0..<997).map { UInt8(truncatingIfNeeded: $0 &* (thread + 3)) }
            let memory = GuestMemory(bytes: bytes)
            for _ in 0..<50 {
                let result = try? prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                                        regions: MemoryRegions([memory.region(.input)])))
                if result != SamplePrograms.fnv1a(bytes) { mismatches.add(1, ordering: .relaxed) }
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
    }

    /// Atomic adds from several threads on one shared word lose no update.
    @Test(arguments: [Width.w32, .w64])
    func atomicAddsAreAtomic(_ width: Width) throws {
        // for (r3 = 0; r3 != 2000; r3++) lock add [r1], r2(=1)
        let program = Program([
            Asm.mov(.r2, 1), Asm.mov(.r3, 0),
            .atomic(width, .add(fetch: false), dst: .r1, offset: 0, src: .r2),
            Asm.alu64(.add, .r3, 1), Asm.jmp(.ne, .r3, 2_000, -3),
            Asm.mov(.r0, 0), .exit,
        ])
        let prepared = try Interpreter().prepare(program, configuration: EngineConfiguration())
        let shared = GuestMemory(count: 8)
        let input = RunInput(r1: shared.address, r2: 8, regions: MemoryRegions([shared.region(.input)]))
        DispatchQueue.concurrentPerform(iterations: 4) { _ in _ = try? prepared.run(input) }
        let total = width == .w64 ? shared.load(UInt64.self, at: 0) : UInt64(shared.load(UInt32.self, at: 0))
        #expect(total == 8_000)
        // A 32-bit add leaves the neighbouring word alone.
        if width == .w32 { #expect(shared.load(UInt32.self, at: 4) == 0) }
    }
}
