import BPFAssembler
import BPFISA
import Testing

/// The conformance syntax, form by form: each line assembles to the typed
/// instruction RFC 9669 says it is, and the conformance-style disassembler
/// prints that instruction as the same line.
@Suite struct AssemblerTests {
    static let golden: [(text: String, instruction: Instruction)] = [
        ("mov32 %r0, 0", .alu(.w32, .mov, dst: .r0, .immediate(0))),
        ("add %r0, %r1", .alu(.w64, .add, dst: .r0, .register(.r1))),
        ("sub32 %r2, -7", .alu(.w32, .sub, dst: .r2, .immediate(-7))),
        ("mul %r3, 0x7fffffff", .alu(.w64, .mul, dst: .r3, .immediate(.max))),
        ("div32 %r1, %r2", .alu(.w32, .div, dst: .r1, .register(.r2))),
        ("sdiv %r1, -3", .alu(.w64, .sdiv, dst: .r1, .immediate(-3))),
        ("mod %r1, %r9", .alu(.w64, .mod, dst: .r1, .register(.r9))),
        ("smod32 %r1, 9", .alu(.w32, .smod, dst: .r1, .immediate(9))),
        ("or %r0, 0x80000000", .alu(.w64, .or, dst: .r0, .immediate(.min))),
        ("and32 %r0, %r10", .alu(.w32, .and, dst: .r0, .register(.r10))),
        ("lsh %r0, 63", .alu(.w64, .lsh, dst: .r0, .immediate(63))),
        ("rsh32 %r0, %r1", .alu(.w32, .rsh, dst: .r0, .register(.r1))),
        ("arsh %r0, 4", .alu(.w64, .arsh, dst: .r0, .immediate(4))),
        ("xor %r0, -1", .alu(.w64, .xor, dst: .r0, .immediate(-1))),
        ("neg %r1", .neg(.w64, dst: .r1)),
        ("neg32 %r2", .neg(.w32, dst: .r2)),
        ("movsx832 %r0, %r1", .movsx(.w32, dst: .r0, src: .r1, bits: 8)),
        ("movsx1632 %r4, %r3", .movsx(.w32, dst: .r4, src: .r3, bits: 16)),
        ("movsx864 %r6, %r5", .movsx(.w64, dst: .r6, src: .r5, bits: 8)),
        ("movsx1664 %r8, %r7", .movsx(.w64, dst: .r8, src: .r7, bits: 16)),
        ("movsx3264 %r0, %r9", .movsx(.w64, dst: .r0, src: .r9, bits: 32)),
        ("le16 %r0", .byteSwap(.toLittleEndian, dst: .r0, bits: 16)),
        ("le64 %r0", .byteSwap(.toLittleEndian, dst: .r0, bits: 64)),
        ("be32 %r1", .byteSwap(.toBigEndian, dst: .r1, bits: 32)),
        ("swap16 %r2", .byteSwap(.swap, dst: .r2, bits: 16)),
        ("swap64 %r2", .byteSwap(.swap, dst: .r2, bits: 64)),
        ("ja +3", .jump(offset: 3)),
        ("ja -1", .jump(offset: -1)),
        ("ja32 -32769", .jumpLong(offset: -32769)),
        ("jeq %r1, %r2, +1", .branch(.w64, .eq, dst: .r1, .register(.r2), offset: 1)),
        ("jne32 %r1, 5, -1", .branch(.w32, .ne, dst: .r1, .immediate(5), offset: -1)),
        ("jgt %r1, 3, +0", .branch(.w64, .gt, dst: .r1, .immediate(3), offset: 0)),
        ("jge32 %r1, %r2, +0", .branch(.w32, .ge, dst: .r1, .register(.r2), offset: 0)),
        ("jset %r1, 8, +2", .branch(.w64, .set, dst: .r1, .immediate(8), offset: 2)),
        ("jsgt %r1, %r2, +0", .branch(.w64, .sgt, dst: .r1, .register(.r2), offset: 0)),
        ("jsge32 %r1, -1, +0", .branch(.w32, .sge, dst: .r1, .immediate(-1), offset: 0)),
        ("jlt %r1, %r2, +32767", .branch(.w64, .lt, dst: .r1, .register(.r2), offset: 32767)),
        ("jle32 %r1, 9, -32768", .branch(.w32, .le, dst: .r1, .immediate(9), offset: -32768)),
        ("jslt %r1, 0, +0", .branch(.w64, .slt, dst: .r1, .immediate(0), offset: 0)),
        ("jsle %r1, %r9, +0", .branch(.w64, .sle, dst: .r1, .register(.r9), offset: 0)),
        ("call 5", .call(.helper(5))),
        ("call local +2", .call(.local(offset: 2))),
        ("call runtime 7", .call(.kfunc(btfID: 7))),
        ("call %r2", .call(.register(.r2))),
        ("exit", .exit),
        ("lddw %r0, 0x1122334455667788", .loadImmediate64(dst: .r0, .value(0x1122_3344_5566_7788))),
        ("lddw %r1, -1", .loadImmediate64(dst: .r1, .value(.max))),
        ("lddw %r1, map_fd 3", .loadImmediate64(dst: .r1, .mapByFD(3))),
        ("lddw %r1, map_value_fd 3 8", .loadImmediate64(dst: .r1, .mapValueByFD(fd: 3, offset: 8))),
        ("lddw %r1, variable 3 9", .loadImmediate64(dst: .r1, .variable(btfID: 3, btfFD: 9))),
        ("lddw %r1, code +4", .loadImmediate64(dst: .r1, .codeAddress(offset: 4))),
        ("lddw %r1, map_idx 2", .loadImmediate64(dst: .r1, .mapByIndex(2))),
        ("lddw %r1, map_value_idx 2 16", .loadImmediate64(dst: .r1, .mapValueByIndex(index: 2, offset: 16))),
        ("ldxb %r0, [%r1+2]", .load(.byte, dst: .r0, src: .r1, offset: 2)),
        ("ldxh %r0, [%r1]", .load(.half, dst: .r0, src: .r1, offset: 0)),
        ("ldxw %r0, [%r10-4]", .load(.word, dst: .r0, src: .r10, offset: -4)),
        ("ldxdw %r0, [%r1+32767]", .load(.double, dst: .r0, src: .r1, offset: 32767)),
        ("ldxsb %r0, [%r10-1]", .loadSignExtend(.byte, dst: .r0, src: .r10, offset: -1)),
        ("ldxsh %r0, [%r10-2]", .loadSignExtend(.half, dst: .r0, src: .r10, offset: -2)),
        ("ldxsw %r0, [%r10-32768]", .loadSignExtend(.word, dst: .r0, src: .r10, offset: -32768)),
        ("stb [%r1+2], 17", .storeImmediate(.byte, dst: .r1, offset: 2, imm: 0x11)),
        ("sth [%r1], -2", .storeImmediate(.half, dst: .r1, offset: 0, imm: -2)),
        ("stw [%r1+1], 0x12345", .storeImmediate(.word, dst: .r1, offset: 1, imm: 0x12345)),
        ("stdw [%r10-8], 4", .storeImmediate(.double, dst: .r10, offset: -8, imm: 4)),
        ("stxb [%r1+1], %r2", .store(.byte, dst: .r1, offset: 1, src: .r2)),
        ("stxh [%r1+1], %r2", .store(.half, dst: .r1, offset: 1, src: .r2)),
        ("stxw [%r1+1], %r2", .store(.word, dst: .r1, offset: 1, src: .r2)),
        ("stxdw [%r10-8], %r0", .store(.double, dst: .r10, offset: -8, src: .r0)),
        ("lock add [%r10-8], %r1", .atomic(.w64, .add(fetch: false), dst: .r10, offset: -8, src: .r1)),
        ("lock or32 [%r10-4], %r1", .atomic(.w32, .or(fetch: false), dst: .r10, offset: -4, src: .r1)),
        ("lock and [%r1], %r2", .atomic(.w64, .and(fetch: false), dst: .r1, offset: 0, src: .r2)),
        ("lock xor32 [%r1+8], %r2", .atomic(.w32, .xor(fetch: false), dst: .r1, offset: 8, src: .r2)),
        ("lock fetch add32 [%r10-4], %r1", .atomic(.w32, .add(fetch: true), dst: .r10, offset: -4, src: .r1)),
        ("lock fetch or [%r10-8], %r3", .atomic(.w64, .or(fetch: true), dst: .r10, offset: -8, src: .r3)),
        ("lock fetch and32 [%r10-8], %r1", .atomic(.w32, .and(fetch: true), dst: .r10, offset: -8, src: .r1)),
        ("lock fetch xor [%r10-8], %r1", .atomic(.w64, .xor(fetch: true), dst: .r10, offset: -8, src: .r1)),
        ("lock xchg [%r10-8], %r1", .atomic(.w64, .xchg, dst: .r10, offset: -8, src: .r1)),
        ("lock xchg32 [%r10-8], %r1", .atomic(.w32, .xchg, dst: .r10, offset: -8, src: .r1)),
        ("lock cmpxchg [%r10-8], %r1", .atomic(.w64, .cmpxchg, dst: .r10, offset: -8, src: .r1)),
        ("lock cmpxchg32 [%r10-8], %r1", .atomic(.w32, .cmpxchg, dst: .r10, offset: -8, src: .r1)),
    ]

    @Test(arguments: 0..<golden.count)
    func formAssemblesAndPrints(index: Int) throws {
        let (text, instruction) = Self.golden[index]
        let program = try Assembler.assemble(text)
        #expect(program.instructions.first == instruction, "\(text)")
        #expect(Disassembler.text(of: instruction, at: 0, style: .conformance) == text)
    }

    /// Aliases assemble to the canonical form.
    @Test func aliases() throws {
        let pairs = [("add64 %r0, 1", "add %r0, 1"), ("neg64 %r0", "neg %r0"), ("bswap32 %r0", "swap32 %r0"),
                     ("call helper 5", "call 5"), ("call helper %r3", "call %r3"),
                     ("lock fetch xchg [%r1], %r2", "lock xchg [%r1], %r2"),
                     ("LOCK FETCH ADD [%r1], %r2", "lock fetch add [%r1], %r2"), ("MOV %r0, 1", "mov %r0, 1"),
                     ("ldxw %r0, [ %r1 + 4 ]", "ldxw %r0, [%r1+4]"), ("ldxw %r0, [%r1-0x10]", "ldxw %r0, [%r1-16]"),
                     ("mov32 %r0, 0xffffffff", "mov32 %r0, -1"), ("mov32 %r0, -0x80000000", "mov32 %r0, -2147483648"),
                     ("\tmov\t%r0 ,\t1  # comment", "mov %r0, 1"), ("jeq %r0, 0, +0x10", "jeq %r0, 0, +16")]
        for (alias, canonical) in pairs {
            #expect(try Assembler.assembleBytes(alias) == Assembler.assembleBytes(canonical), "\(alias)")
        }
    }

    @Test func labels() throws {
        let text = """
        # a comment line
        start: mov %r0, 0
            jeq %r1, 0, done
        loop:
        L.2:
            add %r0, 1   # trailing comment
            lddw %r2, 0x100000000
            jne %r0, 3, loop
            ja32 done
            call local func
        done: exit
        func:
            exit
        """
        let program = try Assembler.assemble(text, name: "labels")
        #expect(program.name == "labels")
        #expect(program.instructions == [
            .alu(.w64, .mov, dst: .r0, .immediate(0)),
            .branch(.w64, .eq, dst: .r1, .immediate(0), offset: 6),
            .alu(.w64, .add, dst: .r0, .immediate(1)),
            .loadImmediate64(dst: .r2, .value(0x1_0000_0000)), .immediate64Tail,
            .branch(.w64, .ne, dst: .r0, .immediate(3), offset: -4),
            .jumpLong(offset: 1),
            .call(.local(offset: 1)),
            .exit,
            .exit,
        ])
    }

    /// As in the bpf_conformance assembler, `exit` names the first `exit`
    /// instruction unless the text defines the label.
    @Test func implicitExitLabel() throws {
        let implicit = try Assembler.assemble("ja exit\nmov %r0, 1\nexit\nexit")
        #expect(implicit.instructions[0] == .jump(offset: 1))
        let defined = try Assembler.assemble("ja exit\nexit\nexit:\nexit")
        #expect(defined.instructions[0] == .jump(offset: 1))
        let afterward = try Assembler.assemble("exit\nja exit")
        #expect(afterward.instructions[1] == .jump(offset: -2))
    }

    /// A label past the last instruction is a place, not an error; the engine's
    /// structural check rejects the jump.
    @Test func labelAtEnd() throws {
        let program = try Assembler.assemble("ja end\nexit\nend:")
        #expect(program.instructions[0] == .jump(offset: 1))
        #expect(throws: ISAError.self) { try program.validate() }
    }

    @Test func wireFormHelpers() throws {
        #expect(try Assembler.assembleRaw("lddw %r0, 1\nexit").count == 3)
        #expect(try Assembler.assembleBytes("exit") == [0x95, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Assembler.assembleBytes("exit", byteOrder: .big) == [0x95, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Assembler.assembleBytes("mov %r1, 2", byteOrder: .big) == [0xb7, 0x10, 0, 0, 0, 0, 0, 2])
    }
}
