import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
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
