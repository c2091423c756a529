import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// Instruction selection over short BPF sequences (`X86Peepholes`): a branch
/// over moves becomes `cmovcc`, `mov` + `add`/`lsh` becomes `lea`. Each shape
/// must appear in the image and return what the interpreter returns on edge
/// inputs: equal values, signed against unsigned order, values whose upper
/// halves differ (32-bit forms), both ways of every condition.
@Suite struct PeepholeTests {
    /// Inputs for r1 and r2: equal pairs come from the same list.
    static let edges: [UInt64] = [0, 1, 5, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005,
                                  0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff]

    /// The interpreter's and the JIT's results over every pair of `edges`.
    static func compare(_ instructions: [Instruction], _ what: String) throws {
        let program = Program(instructions)
        let jit = try X86_64JIT().prepare(program, configuration: EngineConfiguration())
        let interpreter = try Interpreter().prepare(program, configuration: EngineConfiguration())
        var mismatches: [String] = []
        for a in edges {
            for b in edges {
                let input = RunInput(r1: a, r2: b, regions: MemoryRegions([]))
                let expected = try interpreter.run(input), got = try jit.run(input)
                if expected != got { mismatches.append("r1=\(hex(a)) r2=\(hex(b)): jit \(hex(got)), interpreter \(hex(expected))") }
            }
        }
        #expect(mismatches.isEmpty, "\(what): \(mismatches.count) mismatches, first \(mismatches.prefix(3))")
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// The mnemonics of the native code of slots `pcs`.
    static func mnemonics(_ instructions: [Instruction], _ pcs: Range<Int>) throws -> [String] {
        let image = try X86_64JIT.assemble(Program(instructions), at: 0x1000_0000)
        let start = image.nativeRange(of: pcs.lowerBound).lowerBound, end = image.nativeRange(of: pcs.upperBound - 1).upperBound
        let disassembler = try NativeDisassembler(.x86_64)
        return disassembler.disassemble(Array(image.bytes[start..<end]), address: 0).map {
            String($0.text.prefix { $0 != " " })
        }
    }

    /// Presets of r3, the select's destination: upper half set (the 32-bit
    /// move must clear it when it runs and keep it when it does not), or a
    /// 32-bit value (then `cmov r32` is used directly).
    static let presets: [(name: String, instruction: Instruction)] = [
        ("r3 = 0xdeadbeef00000007", .loadImmediate64(dst: .r3, .value(0xdead_beef_0000_0007))),
        ("w3 = 7", .alu(.w32, .mov, dst: .r3, .immediate(7))),
    ]

    /// Arms of one or two moves.
    static let arms: [[Instruction]] = [
        [.alu(.w64, .mov, dst: .r3, .register(.r2))],
        [.alu(.w32, .mov, dst: .r3, .register(.r2))],
        [.alu(.w64, .mov, dst: .r3, .immediate(-9))],
        [.alu(.w32, .mov, dst: .r3, .immediate(-9))],
        [.alu(.w64, .mov, dst: .r3, .immediate(0))],
        [.alu(.w32, .mov, dst: .r3, .register(.r3))],
        // Two moves, the second reading the first's destination.
        [.alu(.w32, .mov, dst: .r3, .register(.r1)), .alu(.w64, .mov, dst: .r4, .register(.r3))],
    ]

    /// `r0 = (r3 after the select) ^ r4 * 3`, r4 preset to 11.
    static func program(preset: Instruction, branch: Instruction, arm: [Instruction], diamond: Bool) -> [Instruction] {
        var program: [Instruction] = [preset, .alu(.w64, .mov, dst: .r4, .immediate(11)), branch]
        program += arm
        if diamond { program += [.jump(offset: 1), .alu(.w64, .mov, dst: .r3, .immediate(12345))] } // the slot after ja is never run
        program += [.alu(.w64, .mul, dst: .r4, .immediate(3)), .alu(.w64, .mov, dst: .r0, .register(.r3)),
                    .alu(.w64, .xor, dst: .r0, .register(.r4)), .exit]
        return program
    }

    @Test func branchesOverMovesBecomeConditionalMovesWithTheInterpretersResults() throws {
        var checked = 0
        for preset in Self.presets {
            for arm in Self.arms {
                let registerMoves = arm.allSatisfy { if case .alu(_, _, _, .register) = $0 { true } else { false } }
                for diamond in [false, true] {
                    let skip = Int16(arm.count + (diamond ? 2 : 0))
                    for condition in JumpCondition.allCases {
                        for width in [Width.w64, .w32] {
                            for operand in [Operand.register(.r2), .immediate(5), .immediate(-1), .immediate(0)] {
                                let branch = Instruction.branch(width, condition, dst: .r1, operand, offset: skip)
                                let program = Self.program(preset: preset.instruction, branch: branch, arm: arm, diamond: diamond)
                                let what = "\(preset.name); \(branch); \(arm)\(diamond ? " ja" : "")"
                                let code = try Self.mnemonics(program, 2..<3 + arm.count)
                                if registerMoves {
                                    #expect(code.contains { $0.hasPrefix("cmov") }, "\(what): \(code)")
                                    #expect(!code.contains { $0.hasPrefix("j") && $0 != "jmp" }, "\(what): \(code)")
                                } else {
                                    // Selects of constants stay branches (see `X86Peepholes.isMove`).
                                    #expect(!code.contains { $0.hasPrefix("cmov") }, "\(what): \(code)")
                                }
                                try Self.compare(program, what)
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(checked == Self.presets.count * Self.arms.count * 2 * JumpCondition.allCases.count * 2 * 4)
    }

    /// A jump into the arm: the move runs unconditionally on that path, so
    /// the branch stays a branch.
    @Test func armsOtherCodeJumpsIntoStayBranches() throws {
        let program: [Instruction] = [
            .alu(.w64, .mov, dst: .r3, .immediate(1)),
            .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 1),   // to the move
            .branch(.w64, .gt, dst: .r1, .register(.r2), offset: 1),  // over the move
            .alu(.w64, .mov, dst: .r3, .register(.r2)),
            .alu(.w64, .mov, dst: .r0, .register(.r3)),
            .exit,
        ]
        let code = try Self.mnemonics(program, 2..<4)
        #expect(!code.contains { $0.hasPrefix("cmov") }, "\(code)")
        try Self.compare(program, "jump into the arm")
    }

    /// A select inside a loop (the running maximum of 32-bit products), whose
    /// destination the analysis knows to be zero-extended at the branch.
    @Test func selectsInLoopsKeepTheirResults() throws {
        // r3 = max over i in r2 down to 1 of (i * r1) mod 2^32, as 32-bit values.
        let program: [Instruction] = [
            .alu(.w64, .mov, dst: .r3, .immediate(0)),
            .alu(.w64, .and, dst: .r2, .immediate(15)),
            .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 6),
            .alu(.w32, .mov, dst: .r4, .register(.r2)),             // loop: w4 = i * r1
            .alu(.w32, .mul, dst: .r4, .register(.r1)),
            .branch(.w32, .ge, dst: .r3, .register(.r4), offset: 1),
            .alu(.w32, .mov, dst: .r3, .register(.r4)),
            .alu(.w64, .sub, dst: .r2, .immediate(1)),
            .branch(.w64, .ne, dst: .r2, .immediate(0), offset: -6),
            .alu(.w64, .mov, dst: .r0, .register(.r3)),
            .exit,
        ]
        let code = try Self.mnemonics(program, 5..<7)
        #expect(code == ["cmp", "cmovb"], "\(code)")   // w3 is known zero-extended: cmov r32 directly
        try Self.compare(program, "select in a loop")
    }

    /// `mov` + `add` and `mov` + `lsh` + `add`, 32- and 64-bit, as `lea`.
    @Test func addressArithmeticBecomesLEAWithTheInterpretersResults() throws {
        var checked = 0
        for width in [Width.w64, .w32] {
            let shapes: [[Instruction]] = [
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .add, dst: .r3, .immediate(0x8e))],
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .add, dst: .r3, .immediate(-4))],
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .add, dst: .r3, .immediate(0x12345))],
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .add, dst: .r3, .register(.r2))],
                [.alu(width, .mov, dst: .r0, .register(.r10)), .alu(width, .add, dst: .r0, .register(.r2))],
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .lsh, dst: .r3, .immediate(2)),
                 .alu(width, .add, dst: .r3, .register(.r2))],
                [.alu(width, .mov, dst: .r3, .register(.r1)), .alu(width, .lsh, dst: .r3, .immediate(3)),
                 .alu(width, .add, dst: .r3, .register(.r1))],
                [.alu(width, .mov, dst: .r7, .register(.r2)), .alu(width, .lsh, dst: .r7, .immediate(1)),
                 .alu(width, .add, dst: .r7, .register(.r6))],
            ]
            for shape in shapes {
                guard case .alu(_, _, let dst, _) = shape[0] else { continue }
                // r6 = r1 ^ r2, so that every register the shapes read varies. r10, the frame
                // pointer, differs between the engines: its shape subtracts it again.
                var program: [Instruction] = [.alu(.w64, .mov, dst: .r6, .register(.r1)), .alu(.w64, .xor, dst: .r6, .register(.r2))]
                program += shape
                program += [.alu(.w64, .mov, dst: .r0, .register(dst))]
                if shape[0] == .alu(width, .mov, dst: .r0, .register(.r10)) {
                    program += [.alu(width, .sub, dst: .r0, .register(.r10))]   // r2 (its low half when 32-bit)
                }
                program += [.exit]
                let code = try Self.mnemonics(program, 2..<2 + shape.count)
                #expect(code == ["lea"], "\(shape): \(code)")
                try Self.compare(program, "\(shape)")
                checked += 1
            }
        }
        #expect(checked == 16)
    }
}
