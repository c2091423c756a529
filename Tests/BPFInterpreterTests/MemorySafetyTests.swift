import BPFISA
import BPFInterpreter
import BPFRuntime
import BPFTestSuite
import Testing

/// Every access outside the run's regions stops the program with an error
/// naming the instruction; the host never crashes.
@Suite struct MemorySafetyTests {
    let harness = Harness()

    /// The fields of an out-of-bounds error, or nil for any other outcome.
    private func outOfBounds(_ error: ExecutionError?) -> (pc: Int, address: UInt64, size: Int, write: Bool)? {
        if case .outOfBounds(let pc, let address, let size, let write) = error { return (pc, address, size, write) }
        Issue.record("expected out of bounds, got \(String(describing: error))")
        return nil
    }

    @Test func belowTheStack() throws {
        // All eight frames form one 4 KiB block below the entry frame's r10.
        #expect(try harness.run([Asm.mov(.r0, 0), .store(.byte, dst: .r10, offset: -4096, src: .r0), .exit]) == 0)
        let e = try #require(outOfBounds(harness.failure([Asm.mov(.r0, 0), .load(.byte, dst: .r0, src: .r10, offset: -4097), .exit])))
        #expect(e.pc == 1 && e.size == 1 && !e.write)
        let w = try #require(outOfBounds(harness.failure([Asm.mov(.r1, 1), .store(.double, dst: .r10, offset: -4100, src: .r1), .exit])))
        #expect(w.pc == 1 && w.size == 8 && w.write)
    }

    @Test func aboveTheStack() throws {
        let e = try #require(outOfBounds(harness.failure([.load(.word, dst: .r0, src: .r10, offset: -2), .exit])))
        #expect(e.pc == 0 && e.size == 4)
        let f = try #require(outOfBounds(harness.failure([.storeImmediate(.byte, dst: .r10, offset: 0, imm: 1), Asm.mov(.r0, 0), .exit])))
        #expect(f.pc == 0 && f.write)
    }

    @Test func aboveTheInput() throws {
        let memory = GuestMemory(bytes: Array(0..<16))
        #expect(try harness.run([.load(.double, dst: .r0, src: .r1, offset: 8), .exit], memory: memory) == 0x0f0e_0d0c_0b0a_0908)
        let e = try #require(outOfBounds(harness.failure([Asm.mov(.r0, 0), .load(.double, dst: .r0, src: .r1, offset: 9), .exit], memory: memory)))
        #expect(e.pc == 1 && e.address == memory.address + 9 && e.size == 8 && !e.write)
        let b = try #require(outOfBounds(harness.failure([.load(.byte, dst: .r0, src: .r1, offset: 16), .exit], memory: memory)))
        #expect(b.address == memory.address + 16)
        let n = try #require(outOfBounds(harness.failure([.load(.byte, dst: .r0, src: .r1, offset: -1), .exit], memory: memory)))
        #expect(n.address == memory.address - 1)
    }

    @Test func readOnlyInput() throws {
        let memory = GuestMemory(bytes: [7, 0, 0, 0])
        let program: [Instruction] = [.load(.word, dst: .r0, src: .r1, offset: 0), .store(.byte, dst: .r1, offset: 0, src: .r0), .exit]
        let e = try #require(outOfBounds(harness.failure(program, memory: memory, writable: false)))
        #expect(e.pc == 1 && e.address == memory.address && e.size == 1 && e.write)
        #expect(memory.read() == [7, 0, 0, 0])
        // Atomics write too.
        let a = try #require(outOfBounds(harness.failure([Asm.mov(.r2, 1), .atomic(.w32, .add(fetch: false), dst: .r1, offset: 0, src: .r2),
                                                          Asm.mov(.r0, 0), .exit], memory: memory, writable: false)))
        #expect(a.pc == 1 && a.write)
        #expect(try harness.run([.load(.word, dst: .r0, src: .r1, offset: 0), .exit], memory: memory, writable: false) == 7)
    }

    @Test(arguments: [0, 0xdead_beef, 0xffff_ffff_ffff_fffc, 0x8000_0000_0000_0000] as [UInt64])
    func wildPointers(_ address: UInt64) throws {
        let load = try #require(outOfBounds(harness.failure([Asm.lddw(.r1, address), .load(.double, dst: .r0, src: .r1, offset: 0), .exit])))
        #expect(load.pc == 2 && load.address == address && load.size == 8 && !load.write)
        let store = try #require(outOfBounds(harness.failure([Asm.lddw(.r1, address), .storeImmediate(.word, dst: .r1, offset: 0, imm: 1),
                                                              Asm.mov(.r0, 0), .exit])))
        #expect(store.pc == 2 && store.address == address && store.write)
        let atomic = try #require(outOfBounds(harness.failure([Asm.lddw(.r1, address), .atomic(.w64, .xchg, dst: .r1, offset: 0, src: .r2),
                                                               Asm.mov(.r0, 0), .exit])))
        #expect(atomic.pc == 2 && atomic.write)
    }

    /// Address arithmetic wraps modulo 2^64 as on the machine: r1 - 8 + 8 is r1.
    /// An access just below the region is refused.
    @Test func addressArithmeticWraps() throws {
        let memory = GuestMemory(bytes: [1, 2, 3, 4, 5, 6, 7, 8])
        let program: [Instruction] = [Asm.mov(.r2, .r1), Asm.lddw(.r3, 0xffff_ffff_ffff_fff8), Asm.alu64(.add, .r2, .r3),
                                      .load(.double, dst: .r0, src: .r2, offset: 8), .exit]
        #expect(try harness.run(program, memory: memory) == 0x0807_0605_0403_0201)
        var below = program
        below[3] = .load(.double, dst: .r0, src: .r2, offset: 7)
        let e = try #require(outOfBounds(harness.failure(below, memory: memory)))
        #expect(e.pc == 4 && e.address == memory.address &- 1)
    }

    /// Regions after the first are checked on the slow path; so are regions
    /// the resolver vouches for.
    @Test func otherRegionsAndTheResolver() throws {
        let first = GuestMemory(count: 8), second = GuestMemory(bytes: [1, 2, 3, 4, 5, 6, 7, 8]), dynamic = GuestMemory(bytes: [9, 9, 9, 9])
        let dynamicAddress = dynamic.address
        let regions = MemoryRegions([first.region(.input), second.region(.other, writable: false)]) { address, size, write in
            !write && address >= dynamicAddress && address + UInt64(size) <= dynamicAddress + 4
        }
        // r2 points to the second region, r3 to the one only the resolver knows.
        let program: [Instruction] = [
            Asm.lddw(.r3, dynamicAddress), .load(.word, dst: .r4, src: .r3, offset: 0),
            .load(.double, dst: .r0, src: .r2, offset: 0), Asm.alu64(.add, .r0, .r4), .exit,
        ]
        let value = try harness.prepare(program).run(RunInput(r1: first.address, r2: second.address, regions: regions))
        #expect(value == 0x0807_0605_0403_0201 + 0x0909_0909)
        // A write to the read-only second region, and a read past the dynamic one, are refused.
        let write = try harness.prepare([.storeImmediate(.byte, dst: .r2, offset: 0, imm: 0), Asm.mov(.r0, 0), .exit])
        #expect(throws: ExecutionError.outOfBounds(pc: 0, address: second.address, size: 1, write: true)) {
            try write.run(RunInput(r1: first.address, r2: second.address, regions: regions))
        }
        let past = try harness.prepare([Asm.lddw(.r3, dynamicAddress), .load(.word, dst: .r0, src: .r3, offset: 1), .exit])
        #expect(throws: ExecutionError.outOfBounds(pc: 2, address: dynamicAddress + 1, size: 4, write: false)) {
            try past.run(RunInput(r1: first.address, r2: second.address, regions: regions))
        }
    }

    @Test func misalignedAtomicsAreRefused() throws {
        let program: [Instruction] = [Asm.mov(.r1, 1), .atomic(.w64, .add(fetch: false), dst: .r10, offset: -12, src: .r1), Asm.mov(.r0, 0), .exit]
        let error = try harness.failure(program)
        #expect(error?.pc == 1)
        if case .unsupported = error {} else { Issue.record("expected unsupported, got \(String(describing: error))") }
    }

    /// Random programs of loads, stores, atomics and arithmetic on random
    /// addresses near and far from the regions: every run ends with a result
    /// or an `ExecutionError`, never a crash.
    @Test func randomAccessesNeverEscape() throws {
        var rng = SplitMix(state: 0x5eed)
        let memory = GuestMemory(count: 64)
        var failures = 0, completions = 0
        for _ in 0..<2_000 {
            var program: [Instruction] = []
            for _ in 0..<6 { program.append(Self.randomInstruction(&rng)) }
            program.append(.exit)
            let prepared = try Harness(instructionLimit: 1_000).prepare(program)
            do {
                _ = try Harness().run(prepared, memory: memory)
                completions += 1
            } catch is ExecutionError {
                failures += 1
            }
        }
        #expect(failures > 0 && completions > 0, "\(failures) stopped, \(completions) completed")
    }

    private static func randomInstruction(_ rng: inout SplitMix) -> Instruction {
        let reg = { (rng: inout SplitMix) in Register.all[Int(rng.next() % 10)] }
        let base = { (rng: inout SplitMix) in [Register.r1, .r10, Register.all[Int(rng.next() % 10)]][Int(rng.next() % 3)] }
        let offset = Int16(truncatingIfNeeded: Int64(rng.next() % 160) - 80)
        let size = AccessSize.allCases[Int(rng.next() % 4)]
        switch rng.next() % 7 {
        case 0: return .loadImmediate64(dst: reg(&rng), .value([0, 0xdead_beef, rng.next(), .max][Int(rng.next() % 4)]))
        case 1: return .alu(.w64, [.add, .sub, .xor, .mov][Int(rng.next() % 4)], dst: reg(&rng), .immediate(Int32(truncatingIfNeeded: rng.next())))
        case 2: return .alu(.w64, .add, dst: reg(&rng), .register([Register.r1, .r10][Int(rng.next() % 2)]))
        case 3: return .load(size, dst: reg(&rng), src: base(&rng), offset: offset)
        case 4: return .store(size, dst: base(&rng), offset: offset, src: reg(&rng))
        case 5: return .storeImmediate(size, dst: base(&rng), offset: offset, imm: Int32(truncatingIfNeeded: rng.next()))
        default: return .atomic(rng.next() % 2 == 0 ? .w32 : .w64, AtomicOperation.all[Int(rng.next() % 10)],
                                dst: base(&rng), offset: offset & ~3, src: reg(&rng))
        }
    }
}
