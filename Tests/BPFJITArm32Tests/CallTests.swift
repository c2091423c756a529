import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import Synchronization
import Testing

/// Helper calls by prototype (AAPCS), results by width, local calls and
/// `callx` on the arm32 JIT.
@Suite struct CallTests {
    /// Distinct values for r1–r5 whose halves differ, so a value read from the
    /// wrong register, the wrong half or the wrong stack slot shows.
    static let values: [UInt64] = [0x1111_1111_a1a1_a1a1, 0x2222_2222_b2b2_b2b2, 0x3333_3333_c3c3_c3c3,
                                   0x4444_4444_d4d4_d4d4, 0x5555_5555_e5e5_e5e5]

    /// Calls one helper of `kinds` with r1–r5 = `values` and returns the
    /// arguments it saw and the program's r0.
    static func call(_ kinds: [ValueKind], returns result: ValueKind = .scalar(bits: 64), value: UInt64 = 0x0123_4567_89ab_cdef,
                     engine: Arm32JIT = arm32()) throws -> (seen: [UInt64], r0: UInt64) {
        let seen = Mutex<[UInt64]>([])
        let helper = Helper(id: 77, name: "probe", prototype: HelperPrototype(kinds, returns: result)) { call in
            seen.withLock { $0 = (1...5).map { call.argument($0) } }
            return value
        }
        var instructions: [Instruction] = []
        for (k, v) in values.enumerated() { instructions.append(.ld64(Register(rawValue: UInt8(k + 1))!, v)) }
        instructions += [.call(.helper(77)), .exit]
        let program = try engine.emulate(Program(instructions), configuration: EngineConfiguration(helpers: HelperRegistry([helper])))
        let r0 = try program.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions()))
        return (seen.withLock { $0 }, r0)
    }

    /// What a helper declared with `kinds` must receive: each argument's declared width of the register.
    static func expected(_ kinds: [ValueKind]) -> [UInt64] {
        let result = (0..<5).map { k -> UInt64 in
            guard k < kinds.count else { return 0 }
            return AAPCS.isWord(kinds[k]) ? values[k] & 0xffff_ffff : values[k]
        }
        return result
    }

    static let int = ValueKind.scalar(bits: 32), u64 = ValueKind.scalar(bits: 64)

    /// `foo(int a, int b, long long c, int d)`: a in r0, b in r1, c in r2:r3, d at [sp].
    @Test func case1IntIntLongLongInt() throws {
        let kinds = [Self.int, Self.int, Self.u64, Self.int]
        #expect(AAPCS.locations(for: kinds) == [.register(0), .register(1), .pair(2), .stack(offset: 0, bytes: 4)])
        #expect(try Self.call(kinds).seen == Self.expected(kinds))
    }

    /// `bar(int a, int b, int c, int d)`: a–d in r0–r3.
    @Test func case2FourInts() throws {
        let kinds = [Self.int, Self.int, Self.int, Self.int]
        #expect(AAPCS.locations(for: kinds) == [.register(0), .register(1), .register(2), .register(3)])
        #expect(try Self.call(kinds).seen == Self.expected(kinds))
    }

    /// Other mixes, each checked argument by argument.
    @Test(arguments: [
        [u64, u64, u64, u64, u64],          // r0:r1, r2:r3, [sp], [sp+8], [sp+16]
        [int, u64],                         // r0, (r1 skipped) r2:r3
        [int, u64, int],                    // r0, r2:r3, [sp]
        [int, int, int, u64, int],          // r0–r2, (r3 skipped) [sp+0..8], [sp+8]
        [int, int, int, int, int],          // r0–r3, [sp]
        [int, int, int, int, u64],          // r0–r3, [sp+0..8]
        [u64, int, u64, int, int],          // r0:r1, r2, [sp+0..8], [sp+8], [sp+12]
        [int, int, int, u64, u64],          // r0–r2, [sp], [sp+8]
        [ValueKind.map, .pointer(readOnly: true), .size, u64], // map handle 64-bit, pointer and size one word
        [u64],
        [int],
    ])
    func mixedPrototypes(_ kinds: [ValueKind]) throws {
        // Pointers the emulator translates; keep them out of the comparison by passing no pointer kinds except as words.
        let seen = try Self.call(kinds.map { $0 == .pointer(readOnly: true) ? Self.int : $0 }).seen
        #expect(seen == Self.expected(kinds), "\(kinds): \(AAPCS.locations(for: kinds))")
    }

    @Test func resultsComeBackByWidth() throws {
        #expect(try Self.call([Self.int], returns: Self.u64, value: 0xfedc_ba98_7654_3210).r0 == 0xfedc_ba98_7654_3210)
        // A one-word result comes back in r0 alone (the emulator poisons r1): zero-extended.
        #expect(try Self.call([Self.int], returns: Self.int, value: 0xfedc_ba98_7654_3210).r0 == 0x7654_3210)
    }

    /// A stack pointer passed to a helper reaches the host as the host address of that stack byte.
    @Test func helperReadsTheStack() {
        let helper = Helper(id: 9, name: "read", prototype: HelperPrototype([.pointer(readOnly: true), .size], returns: Self.u64)) { call throws(HelperError) in
            try call.memory.load(UInt64.self, at: call.argument(1)) &+ call.argument(2)
        }
        let program: [Instruction] = [
            .ld64(.r1, 0x1234_5678_9abc_def0), .store(.double, dst: .r10, offset: -16, src: .r1),
            .mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-16)), .mov64(.r2, 8),
            .call(.helper(9)), .exit,
        ]
        let (jit, interpreter) = bothEngines(program, helpers: [helper])
        #expect(jit == .value(0x1234_5678_9abc_def8))
        #expect(jit == interpreter)
    }

    @Test func nearHelperCallsAreDirectAndFarOnesIndirect() throws {
        let helper = Helper(id: 1, name: "one", prototype: HelperPrototype([], returns: Self.u64)) { _ in 1 }
        let config = EngineConfiguration(helpers: HelperRegistry([helper]))
        let program = Program([.call(.helper(1)), .alu(.w64, .div, dst: .r0, .immediate(1)), .exit])
        let near = try arm32(placement: .nearHelpers).emulate(program, configuration: config)
        let far = try arm32(placement: .farFromHelpers).emulate(program, configuration: config)
        #expect(near.image.statistics.directCalls == 2 && near.image.statistics.indirectCalls == 0)
        #expect(far.image.statistics.directCalls == 0 && far.image.statistics.indirectCalls == 2)
        // Direct calls are one word instead of three (movw, movt, blx).
        #expect(far.image.size - near.image.size == 2 * 8)
        for prepared in [near, far] { #expect(try prepared.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == 1) }
    }

    @Test func callThroughRegister() {
        let helpers = [Helper(id: 3, name: "three", prototype: HelperPrototype([Self.u64], returns: Self.u64)) { $0.argument(1) &* 3 },
                       Helper(id: 4, name: "four", prototype: HelperPrototype([Self.u64], returns: Self.u64)) { $0.argument(1) &* 4 }]
        for id: Int32 in [3, 4, 5] {
            let program: [Instruction] = [.ld64(.r1, 0x1_0000_0001), .mov64(.r6, id), .call(.register(.r6)), .exit]
            let (jit, interpreter) = bothEngines(program, helpers: helpers)
            #expect(jit == interpreter, "callx \(id)")
        }
    }

    @Test func localCallsKeepR6ToR9AndTheDepthLimit() {
        // main: r6–r9 set, call f, r0 = r0 + r6 + r7 + r8 + r9; f clobbers r6–r9 and its own stack.
        let program: [Instruction] = [
            .mov64(.r6, 6), .mov64(.r7, 7), .mov64(.r8, 8), .mov64(.r9, 9),
            .store(.double, dst: .r10, offset: -8, src: .r6),
            .call(.local(offset: 7)),
            .alu(.w64, .add, dst: .r0, .register(.r6)), .alu(.w64, .add, dst: .r0, .register(.r7)),
            .alu(.w64, .add, dst: .r0, .register(.r8)), .alu(.w64, .add, dst: .r0, .register(.r9)),
            .load(.double, dst: .r1, src: .r10, offset: -8), .alu(.w64, .add, dst: .r0, .register(.r1)), .exit,
            // f:
            .mov64(.r6, 100), .mov64(.r7, 100), .mov64(.r8, 100), .mov64(.r9, 100),
            .store(.double, dst: .r10, offset: -8, src: .r6), .mov64(.r0, 1000), .exit,
        ]
        let (jit, interpreter) = bothEngines(program)
        #expect(jit == .value(1000 + 6 + 7 + 8 + 9 + 6))
        #expect(jit == interpreter)
        // Unbounded recursion stops at the frame limit, at the call's pc, as in the interpreter.
        let recursion: [Instruction] = [.call(.local(offset: -1)), .exit]
        let (deep, reference) = bothEngines(recursion)
        #expect(deep == reference)
        if case .failure(.callDepthExceeded) = deep {} else { Issue.record("recursion: \(deep)") }
    }
}
