import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// What the compile-time work changed: the pass driver writes a pass in which
/// every short branch reached, without a pass to confirm it; the dataflow
/// analyses walk successors without allocating; instruction selection is a
/// `JITOptions` field.
@Suite struct CompileSpeedTests {
    static let filler = Instruction.alu(.w64, .add, dst: .r0, .immediate(1))   // add rax, 1: 4 bytes

    /// Whether the JIT returns what the interpreter returns for `r1`.
    static func agree(_ instructions: [Instruction], r1: UInt64) throws -> Bool {
        let program = Program(instructions)
        let input = RunInput(r1: r1, r2: 0, regions: MemoryRegions([]))
        let expected = try Interpreter().prepare(program, configuration: EngineConfiguration()).run(input)
        return try X86_64JIT().prepare(program, configuration: EngineConfiguration()).run(input) == expected
    }

    /// Straight-line code and short branches: one pass, at any placement.
    @Test func codeWhoseBranchesAllReachIsWrittenByItsFirstPass() throws {
        let program: [Instruction] = [.mov64(.r0, 0), .branch(.w64, .gt, dst: .r1, .immediate(5), offset: 2),
                                      Self.filler, Self.filler, .alu(.w64, .mul, dst: .r0, .immediate(6)), .exit]
        let image = try X86_64JIT.assemble(Program(program), at: 0x10000)
        #expect(image.passes == 1)
        let placed = try jit(program)
        #expect(placed.image.passes == 1)
        for r1: UInt64 in [0, 5, 6, .max] {
            #expect(try Self.agree(program, r1: r1), "r1 = \(r1)")
        }
    }

    /// A forward branch over more than 127 bytes: the first pass tries rel8,
    /// which does not reach; the second takes rel32, and every short form of
    /// the second reached, so it is written. Running it against the
    /// interpreter shows its displacements are this pass's own (were the
    /// first pass written, the branch would keep an unpatched rel8).
    @Test func aBranchThatGrowsCostsOneMorePass() throws {
        for n in [31, 32, 40, 400] {   // 124...1600 bytes of fillers
            var program: [Instruction] = [.mov64(.r0, 0), .branch(.w64, .gt, dst: .r1, .immediate(5), offset: Int16(n))]
            program += Array(repeating: Self.filler, count: n)
            program += [.branch(.w64, .eq, dst: .r1, .immediate(0), offset: -Int16(n + 2)), .alu(.w64, .add, dst: .r0, .immediate(1000)), .exit]
            let image = try X86_64JIT.assemble(Program(program), at: 0x10000)
            #expect(image.passes == (n >= 32 ? 2 : 1), "n = \(n): \(image.passes) passes")
            for r1: UInt64 in [1, 6] {
                #expect(try Self.agree(program, r1: r1), "n = \(n), r1 = \(r1)")
            }
        }
    }

    /// `jitSuccessors(at:)` lists what `successors(at:)` lists, in order.
    @Test func successorsWithoutAllocatingAgree() {
        let instructions: [Instruction] = [
            .exit, .jump(offset: 3), .jump(offset: -1), .jumpLong(offset: 70_000),
            .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 4), .branch(.w32, .lt, dst: .r1, .register(.r2), offset: -3),
            .loadImmediate64(dst: .r1, .value(7)), .call(.helper(1)), .call(.local(offset: 5)), Self.filler,
            .load(.word, dst: .r0, src: .r1, offset: 0),
        ]
        for (k, instruction) in instructions.enumerated() {
            let pc = 10 + k
            #expect(Array(instruction.jitSuccessors(at: pc)) == instruction.successors(at: pc), "\(instruction)")
        }
    }

    /// The patterns of `X86Peepholes` follow `JITOptions.instructionSelection`,
    /// and `BPFKIT_X86_PEEPHOLES`'s values parse as documented.
    @Test func instructionSelectionIsAnOption() throws {
        // A select (branch over a move) and an address computation (mov + add).
        let program = Program([
            .mov64(.r3, .r1), .alu(.w64, .add, dst: .r3, .register(.r2)),
            .branch(.w64, .gt, dst: .r1, .register(.r2), offset: 1), .mov64(.r3, .r2),
            .mov64(.r0, .r3), .exit,
        ])
        func mnemonics(_ choice: JITInstructionSelection) throws -> [String] {
            let image = try X86_64JIT.assemble(program, options: JITOptions(instructionSelection: choice), at: 0x1000_0000)
            let disassembler = try NativeDisassembler(.x86_64)
            return disassembler.disassemble(image.bytes, address: 0).map { String($0.text.prefix { $0 != " " }) }
        }
        let all = try mnemonics(.all), none = try mnemonics(.none)
        let selects = try mnemonics(.selects), addresses = try mnemonics(.addresses)
        #expect(all.contains("lea") && all.contains { $0.hasPrefix("cmov") }, "\(all)")
        #expect(!none.contains("lea") && !none.contains { $0.hasPrefix("cmov") }, "\(none)")
        #expect(!selects.contains("lea") && selects.contains { $0.hasPrefix("cmov") }, "\(selects)")
        #expect(addresses.contains("lea") && !addresses.contains { $0.hasPrefix("cmov") }, "\(addresses)")
        #expect(JITOptions().instructionSelection == .all)
        #expect(JITInstructionSelection(environmentValue: nil) == .all)
        #expect(JITInstructionSelection(environmentValue: "0") == .none)
        #expect(JITInstructionSelection(environmentValue: "select") == .selects)
        #expect(JITInstructionSelection(environmentValue: "lea") == .addresses)
        #expect(JITInstructionSelection(environmentValue: "1") == .all)
        #expect(JITInstructionSelection(environmentValue: "fold") == .loads)
        #expect(JITInstructionSelection(environmentValue: "select,lea,align") == [.selects, .addresses, .loopAlignment])
        #expect(!JITInstructionSelection.all.contains(.loopAlignment))
        for choice: JITInstructionSelection in [.all, .none, .selects, .addresses] {
            for (r1, r2): (UInt64, UInt64) in [(1, 2), (2, 1), (5, 5), (.max, 0)] {
                let jitted = try X86_64JIT(options: JITOptions(instructionSelection: choice))
                    .prepare(program, configuration: EngineConfiguration()).run(RunInput(r1: r1, r2: r2, regions: MemoryRegions([])))
                let expected = r1 > r2 ? r1 &+ r2 : r2
                #expect(jitted == expected, "\(choice.rawValue): r1 \(r1), r2 \(r2)")
            }
        }
    }
}

/// Branch relaxation without lowering again: a pass after the first at one
/// address is made from the one before by re-encoding its branch sites
/// (`JITAssembler.replay`). It must give the bytes and the layout a lowered
/// pass gives.
@Suite struct PassReplayTests {
    /// Routines no `call rel32` from the test addresses reaches: calls into
    /// the host take `movabs; call rax`, which is the same at every position.
    static let farRoutines = X86_64Backend.HostRoutineAddresses(callHelper: 0x7fff_0000_0000, checkAccess: 0x7ffe_0000_0000)

    /// The image and its pass count, with passes replayed or all lowered.
    static func image(_ program: Program, replaying: Bool, options: JITOptions = JITOptions(),
                      routines: X86_64Backend.HostRoutineAddresses = farRoutines) throws -> JITImage {
        let helpers = try JITHelperTable(program: program, registry: KernelHelpers.registry())
        var backend = try X86_64Backend(program: program, helpers: helpers, options: options, routines: routines)
        backend.replaysPasses = replaying
        return try JITDriver.compile(program, backend: &backend, placement: .address(0x10_0000)).0
    }

    static func expectSame(_ program: Program, _ what: String, options: JITOptions = JITOptions(),
                           routines: X86_64Backend.HostRoutineAddresses = farRoutines) throws -> Int {
        let lowered = try image(program, replaying: false, options: options, routines: routines)
        let replayed = try image(program, replaying: true, options: options, routines: routines)
        #expect(replayed.bytes == lowered.bytes, "\(what): bytes differ")
        #expect(replayed.instructionOffsets == lowered.instructionOffsets, "\(what): layouts differ")
        #expect(replayed.passes == lowered.passes, "\(what): \(replayed.passes) passes replayed, \(lowered.passes) lowered")
        return lowered.passes
    }

    /// Forward and backward branches of every span around the rel8 limit,
    /// crossing each other, with divisions (labels made during the pass),
    /// checked loads (out-of-line stubs and their branches) and helper
    /// calls between them: the replayed passes equal the lowered ones.
    @Test func replayedPassesAreTheLoweredPasses() throws {
        var rng = SplitMix(state: 0x5eed)
        var grown = 0
        for round in 0..<60 {
            let count = 40 + Int(rng.next() % 400)
            var instructions: [Instruction] = [.mov64(.r0, 0), .mov64(.r2, 3)]
            while instructions.count < count {
                let here = instructions.count
                switch rng.next() % 9 {
                case 0, 1:
                    let span = Int(rng.next() % 60) + 1
                    instructions.append(.branch(.w64, rng.next() % 2 == 0 ? .eq : .gt, dst: .r1, .immediate(Int32(rng.next() % 7)),
                                                offset: Int16(min(span, count - here - 1))))
                case 2:
                    let back = Int(rng.next() % 50) + 1
                    instructions.append(.jump(offset: Int16(rng.next() % 3 == 0 ? -min(back, here) - 1 : min(back, count - here - 1))))
                case 3:
                    instructions.append(.alu(.w64, .div, dst: .r0, .register(.r2)))
                case 4:
                    instructions.append(.load(.word, dst: .r3, src: .r1, offset: Int16(rng.next() % 64)))
                case 5 where round % 3 == 0:
                    instructions.append(.call(.helper(1)))   // bpf_map_lookup_elem: compiled, not run
                default:
                    instructions.append(.alu(.w64, .add, dst: .r0, .immediate(Int32(rng.next() % 100_000))))
                }
            }
            instructions.append(.exit)
            if try Self.expectSame(Program(instructions), "round \(round)") > 1 { grown += 1 }
        }
        #expect(grown > 20, "only \(grown) programs had a branch that grew")
    }

    /// Random verifiable programs (the differential fuzz's generator), with
    /// and without instruction selection.
    @Test func randomProgramsReplayAsLowered() throws {
        var grown = 0
        for seed in UInt64(0)..<150 {
            var generator = RandomProgram(seed: seed, defined: true)
            let program = generator.generate()
            for options in [JITOptions(), JITOptions(instructionSelection: [])] {
                if try Self.expectSame(program, "seed \(seed)", options: options) > 1 { grown += 1 }
            }
        }
        #expect(grown > 0)
    }
}
