import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// Loads as memory operands (`X86Peepholes.FoldedLoad`) and aligned loop
/// heads: each shape must appear in the image (or not, where the loaded
/// register is read again) and return what the interpreter returns on edge
/// inputs (`PeepholeTests.edges`: equal values, values whose upper halves
/// differ, the extremes).
@Suite struct LoadFoldingTests {
    static let operations: [ALUOperation] = [.add, .sub, .and, .or, .xor, .mul]

    static func mnemonic(_ operation: ALUOperation) -> String {
        operation == .mul ? "imul" : "\(operation)"
    }

    /// The native instructions (full text) of slots `pcs`.
    static func code(_ instructions: [Instruction], _ pcs: Range<Int>, options: JITOptions = JITOptions()) throws -> [String] {
        let image = try X86_64JIT.assemble(Program(instructions), options: options, at: 0x1000_0000)
        let start = image.nativeRange(of: pcs.lowerBound).lowerBound, end = image.nativeRange(of: pcs.upperBound - 1).upperBound
        let disassembler = try NativeDisassembler(.x86_64)
        return disassembler.disassemble(Array(image.bytes[start..<end]), address: 0).map(\.text)
    }

    /// Stores r1 and r2 on the stack (the upper half of r1's word differs
    /// from its lower), `r3 = r2 ^ r1 * 7`, then `t = load; r3 op= t` and
    /// `tail`; r0 = r3 ^ t at the end. `t` is r4 unless given.
    static func program(_ width: Width, _ operation: ALUOperation, offset: Int16, t: Register = .r4,
                        tail: [Instruction]) -> [Instruction] {
        var program: [Instruction] = [
            .store(.double, dst: .r10, offset: -8, src: .r1),
            .store(.double, dst: .r10, offset: -16, src: .r2),
            .alu(.w64, .mov, dst: .r3, .register(.r1)),
            .alu(.w64, .mul, dst: .r3, .immediate(7)),
            .alu(.w64, .xor, dst: .r3, .register(.r2)),
            .alu(.w64, .mov, dst: t, .immediate(-3)),                 // t's old value: the fold must not keep it
            .load(width == .w32 ? .word : .double, dst: t, src: .r10, offset: offset),
            .alu(width, operation, dst: .r3, .register(t)),
        ]
        program += tail
        program += [.alu(.w64, .mov, dst: .r0, .register(.r3)), .alu(.w64, .xor, dst: .r0, .register(t)), .exit]
        return program
    }

    /// Every operation, both widths, both stack words and the upper half of
    /// the first: folded into `op dst, [rbp + k]` where t is overwritten
    /// before it is read again, with the interpreter's results.
    @Test func deadLoadsBecomeMemoryOperandsWithTheInterpretersResults() throws {
        var checked = 0
        for width in [Width.w64, .w32] {
            for operation in Self.operations {
                for offset: Int16 in width == .w64 ? [-8, -16] : [-8, -4, -16, -12] {
                    // t overwritten (after an unrelated instruction) before it is read.
                    let program = Self.program(width, operation, offset: offset,
                                               tail: [.alu(.w64, .add, dst: .r3, .immediate(1)),
                                                      .alu(.w32, .mov, dst: .r4, .immediate(9))])
                    let code = try Self.code(program, 6..<8)
                    #expect(code.count == 1 && code[0].hasPrefix(Self.mnemonic(operation) + " ") && code[0].contains("[rbp"),
                            "\(width) \(operation) \(offset): \(code)")
                    try PeepholeTests.compare(program, "folded \(width) \(operation) at \(offset)")
                    checked += 1
                }
            }
        }
        #expect(checked == 6 * 2 + 6 * 4)
    }

    /// t read again, read before it is overwritten, or live past a branch or
    /// an exit the scan does not look through: the load stays a load.
    @Test func loadsReadAgainStayLoads() throws {
        let tails: [(String, [Instruction])] = [
            ("read at the end", []),
            ("read by the next instruction", [.alu(.w64, .add, dst: .r3, .register(.r4)), .alu(.w64, .mov, dst: .r4, .immediate(1))]),
            ("read to overwrite itself", [.alu(.w32, .mov, dst: .r4, .register(.r4))]),
            ("read by an operation on itself", [.alu(.w64, .add, dst: .r4, .immediate(2))]),
            ("live on one way of a branch", [.branch(.w64, .eq, dst: .r3, .immediate(0), offset: 1),
                                             .alu(.w64, .mov, dst: .r4, .immediate(1))]),
        ]
        var checked = 0
        for (what, tail) in tails {
            for width in [Width.w64, .w32] {
                for operation in Self.operations {
                    let program = Self.program(width, operation, offset: -8, tail: tail)
                    let code = try Self.code(program, 6..<8)
                    #expect(code.count == 2 && code[0].hasPrefix("mov"), "\(what) \(width) \(operation): \(code)")
                    try PeepholeTests.compare(program, "\(what) \(width) \(operation)")
                    checked += 1
                }
            }
        }
        #expect(checked == 5 * 2 * 6)
    }

    /// A load of the operation's own destination, a byte load (whose width
    /// differs from the operation's), and a load another jump lands between:
    /// not folded, same results.
    @Test func otherShapesStayLoads() throws {
        let shapes: [(String, [Instruction])] = [
            ("destination loaded", [.load(.double, dst: .r3, src: .r10, offset: -8), .alu(.w64, .add, dst: .r3, .register(.r3)),
                                    .alu(.w64, .mov, dst: .r3, .immediate(0))]),
            ("byte load", [.load(.byte, dst: .r4, src: .r10, offset: -8), .alu(.w32, .add, dst: .r3, .register(.r4)),
                           .alu(.w64, .mov, dst: .r4, .immediate(0))]),
            ("jump into the pair", [.branch(.w64, .gt, dst: .r1, .register(.r2), offset: 1),
                                    .load(.word, dst: .r4, src: .r10, offset: -8), .alu(.w32, .add, dst: .r3, .register(.r4)),
                                    .alu(.w64, .mov, dst: .r4, .immediate(0))]),
        ]
        for (what, shape) in shapes {
            var program: [Instruction] = [
                .store(.double, dst: .r10, offset: -8, src: .r1),
                .alu(.w64, .mov, dst: .r3, .register(.r2)),
                .alu(.w64, .mov, dst: .r4, .immediate(5)),
            ]
            program += shape
            program += [.alu(.w64, .mov, dst: .r0, .register(.r3)), .alu(.w64, .xor, dst: .r0, .register(.r4)), .exit]
            let loadAt = program.firstIndex { if case .load = $0 { true } else { false } }!
            let code = try Self.code(program, loadAt..<loadAt + 1)
            #expect(code.first?.hasPrefix("mov") == true, "\(what): \(code)")
            try PeepholeTests.compare(program, what)
        }
    }

    /// The compare of a branch reading the load (`cmp dst, [m]; jcc`), every
    /// condition but `set`, both widths, the loaded register overwritten on
    /// both ways after the branch.
    @Test func loadsComparedByABranchBecomeMemoryOperands() throws {
        var checked = 0
        for width in [Width.w64, .w32] {
            for condition in JumpCondition.allCases where condition != .set {
                for offset: Int16 in width == .w64 ? [-8, -16] : [-8, -4, -16] {
                    let tail: [Instruction] = [.alu(.w64, .add, dst: .r3, .immediate(77)), .alu(.w64, .mov, dst: .r4, .immediate(1))]
                    var program = Self.program(width, .add, offset: offset, tail: tail)
                    program[7] = .branch(width, condition, dst: .r3, .register(.r4), offset: 1)   // over the add
                    let code = try Self.code(program, 6..<8)
                    #expect(code.count == 2 && code[0].hasPrefix("cmp ") && code[0].contains("[rbp") && code[1].hasPrefix("j"),
                            "\(width) \(condition) \(offset): \(code)")
                    try PeepholeTests.compare(program, "compared \(width) \(condition) at \(offset)")
                    checked += 1
                }
            }
        }
        #expect(checked == (JumpCondition.allCases.count - 1) * 5)
    }

    /// A load in a loop that a counter runs (the sum of the stack word's
    /// products), the loop head aligned to 16 bytes: folded where the exit
    /// does not read the loaded register, kept where it does.
    @Test func loadsInAlignedLoopsKeepTheirResults() throws {
        // r3 = sum over i in (r2 & 15) down to 1 of w(r1) * i, 32-bit; r4 is the loaded word.
        let loop: [Instruction] = [
            .store(.double, dst: .r10, offset: -8, src: .r1),
            .alu(.w64, .mov, dst: .r3, .immediate(0)),
            .alu(.w64, .mov, dst: .r4, .immediate(3)),
            .alu(.w64, .and, dst: .r2, .immediate(15)),
            .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 6),
            .alu(.w32, .mov, dst: .r5, .register(.r2)),              // loop head (slot 5)
            .load(.word, dst: .r4, src: .r10, offset: -8),
            .alu(.w32, .mul, dst: .r5, .register(.r4)),
            .alu(.w32, .add, dst: .r3, .register(.r5)),
            .alu(.w64, .sub, dst: .r2, .immediate(1)),
            .branch(.w64, .ne, dst: .r2, .immediate(0), offset: -6),
            .alu(.w64, .mov, dst: .r0, .register(.r3)),
        ]
        let folded = loop + [.exit]
        let kept = loop + [.alu(.w64, .xor, dst: .r0, .register(.r4)), .exit]
        let aligned = JITOptions(instructionSelection: JITInstructionSelection.all.union(.loopAlignment))
        let code = try Self.code(folded, 6..<8, options: aligned)
        #expect(code.count == 1 && code[0].hasPrefix("imul"), "\(code)")
        #expect(try Self.code(kept, 6..<7, options: aligned).first?.hasPrefix("mov") == true)
        for program in [folded, kept] {
            let image = try X86_64JIT.assemble(Program(program), options: aligned, at: 0x1000_0000)
            #expect(image.nativeRange(of: 5).lowerBound % 16 == 0, "loop head at \(image.nativeRange(of: 5).lowerBound)")
            // Off by default: no padding before the head.
            let plain = try X86_64JIT.assemble(Program(program), at: 0x1000_0000)
            #expect(plain.size < image.size)
            try Self.compare(program, options: aligned, "loop, aligned")
        }
        try PeepholeTests.compare(folded, "loop, folded")
        try PeepholeTests.compare(kept, "loop, kept")
    }

    /// The interpreter's and the JIT's results over every pair of edge
    /// inputs, the JIT with `options`.
    static func compare(_ instructions: [Instruction], options: JITOptions, _ what: String) throws {
        let program = Program(instructions)
        let jit = try X86_64JIT(options: options).prepare(program, configuration: EngineConfiguration())
        let interpreter = try Interpreter().prepare(program, configuration: EngineConfiguration())
        var mismatches: [String] = []
        for a in PeepholeTests.edges {
            for b in PeepholeTests.edges {
                let input = RunInput(r1: a, r2: b, regions: MemoryRegions([]))
                let expected = try interpreter.run(input), got = try jit.run(input)
                if expected != got { mismatches.append("r1=\(PeepholeTests.hex(a)) r2=\(PeepholeTests.hex(b)): jit \(got), interpreter \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(what): \(mismatches.count) mismatches, first \(mismatches.prefix(3))")
    }

    /// A table of eight words on the stack, read at `[b + (r2 & 3) << k + offset]`
    /// through a stack pointer in r5 (proven safe here by running unchecked,
    /// which is for verified programs; the table's bounds hold for every
    /// input). Ends `r0 ^= tail`.
    static func indexedProgram(_ size: AccessSize, shift k: Int32, offset: Int16, tail: [Instruction]) -> [Instruction] {
        var program: [Instruction] = [.alu(.w64, .mov, dst: .r6, .register(.r10)), .alu(.w64, .add, dst: .r6, .immediate(-64))]
        for word in 0..<8 {
            let value: Register = word % 2 == 0 ? .r1 : .r2
            program += [.alu(.w64, .mov, dst: .r3, .register(value)), .alu(.w64, .mul, dst: .r3, .immediate(Int32(2 * word + 1))),
                        .store(.double, dst: .r10, offset: Int16(-64 + 8 * word), src: .r3)]
        }
        program += [.alu(.w64, .mov, dst: .r5, .register(.r6)), .alu(.w64, .mov, dst: .r4, .register(.r2)),
                    .alu(.w64, .and, dst: .r4, .immediate(3))]
        if k > 0 { program.append(.alu(.w64, .lsh, dst: .r4, .immediate(k))) }
        program += [.alu(.w64, .add, dst: .r5, .register(.r4)), .load(size, dst: .r0, src: .r5, offset: offset)]
        program += tail
        program += [.exit]
        return program
    }

    /// `b += (i << k)` and a proven load through b, b and i dead after it:
    /// one `mov d, [b + i*2^k + offset]`, every size, every scale; with i read
    /// again the shift stays and the add still folds; with b read again
    /// nothing folds; checked (not proven) nothing folds.
    @Test func indexedLoadsUseTheScaledIndexWithTheInterpretersResults() throws {
        let unchecked = JITOptions(memoryChecking: .unchecked)
        var checked = 0
        for size in AccessSize.allCases {
            for k: Int32 in 0...3 {
                for offset: Int16 in [0, 5] {
                    let program = Self.indexedProgram(size, shift: k, offset: offset, tail: [.alu(.w64, .xor, dst: .r0, .immediate(0x55))])
                    let load = program.lastIndex { if case .load = $0 { true } else { false } }!
                    let first = k > 0 ? load - 2 : load - 1
                    let image = try X86_64JIT.assemble(Program(program), options: unchecked, at: 0x1000_0000)
                    let start = image.nativeRange(of: first).lowerBound, end = image.nativeRange(of: load).upperBound
                    let code = try NativeDisassembler(.x86_64).disassemble(Array(image.bytes[start..<end]), address: 0).map(\.text)
                    let scaled = k > 0 ? "*\(1 << k)" : ""
                    #expect(code.count == 1 && code[0].contains(scaled + (offset == 0 ? "]" : " + 5]")),
                            "\(size) << \(k) + \(offset): \(code)")
                    try Self.compare(program, options: unchecked, "indexed \(size) << \(k) + \(offset)")
                    // Index read again: the shift stays (scale 1); base read again: no fold.
                    for (what, tail, count) in [("index live", [Instruction.alu(.w64, .xor, dst: .r0, .register(.r4))], k > 0 ? 2 : 1),
                                                ("base live", [.alu(.w64, .sub, dst: .r5, .register(.r6)), // the offset, not an address
                                                               .alu(.w64, .xor, dst: .r0, .register(.r5))], k > 0 ? 3 : 2)] {
                        let live = Self.indexedProgram(size, shift: k, offset: offset, tail: tail)
                        let image = try X86_64JIT.assemble(Program(live), options: unchecked, at: 0x1000_0000)
                        let start = image.nativeRange(of: first).lowerBound, end = image.nativeRange(of: load).upperBound
                        let code = try NativeDisassembler(.x86_64).disassemble(Array(image.bytes[start..<end]), address: 0).map(\.text)
                        #expect(code.count == count, "\(what) \(size) << \(k) + \(offset): \(code)")
                        try Self.compare(live, options: unchecked, "\(what) \(size) << \(k) + \(offset)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 4 * 4 * 2)
        // Checked (no proof): the access keeps its check, so nothing folds.
        let program = Self.indexedProgram(.double, shift: 3, offset: 0, tail: [])
        let image = try X86_64JIT.assemble(Program(program), at: 0x1000_0000)
        #expect(image.nativeRange(of: program.count - 2).count > 0 && image.nativeRange(of: program.count - 3).count > 0)
        try PeepholeTests.compare(program, "indexed, checked")
    }

    /// `and dst, 0xff` / `0xffff` (32- and 64-bit) as `movzx dst32, dst8/16`,
    /// on every register home (sil and dil need a REX prefix).
    @Test func byteAndWordMasksBecomeZeroExtensions() throws {
        var checked = 0
        for width in [Width.w64, .w32] {
            for mask: Int32 in [0xff, 0xffff] {
                for dst in [Register.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9] {
                    let program: [Instruction] = [
                        .alu(.w64, .mov, dst: .r6, .register(.r1)), .alu(.w64, .mul, dst: .r6, .register(.r2)),
                        .alu(.w64, .add, dst: .r6, .register(.r1)),
                        .alu(.w64, .mov, dst: dst, .register(.r6)),
                        .alu(width, .and, dst: dst, .immediate(mask)),
                        .alu(.w64, .mov, dst: .r0, .register(dst)), .exit,
                    ]
                    let code = try Self.code(program, 4..<5)
                    #expect(code.count == 1 && code[0].hasPrefix("movzx"), "\(width) \(dst) & \(mask): \(code)")
                    try PeepholeTests.compare(program, "\(width) \(dst) & \(mask)")
                    checked += 1
                }
            }
        }
        #expect(checked == 40)
    }
}
