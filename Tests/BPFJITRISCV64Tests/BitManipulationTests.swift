import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// The Zba/Zbb instructions the emulator performs for Unicorn's RV64 core,
/// which lacks them: their semantics against the values the Bit-Manipulation
/// specification defines, their decoding against llvm-mc's encodings, the
/// machine's hook on each, and the backend's use of them.
@Suite struct BitManipulationTests {
    typealias Op = RISCVBitManipulation.Operation
    static let ones = UInt64.max
    static let minSigned: UInt64 = 0x8000_0000_0000_0000

    /// (operation, rs1, rs2 or shift amount, result), each result worked out
    /// from the specification's definition by hand, edge values first.
    static let table: [(Op, UInt64, UInt64, UInt64)] = [
        (.addUW, ones, 1, 0x1_0000_0000), (.addUW, 0x1234_5678_8000_0000, 0, 0x8000_0000),
        (.sh1add, 3, 100, 106), (.sh2add, 3, 100, 112), (.sh3add, 3, 100, 124),
        (.sh3add, minSigned | 1, 0, 8), (.sh1add, ones, 0, ones << 1),
        (.sh1addUW, 0xFFFF_FFFF_8000_0000, 0, 0x1_0000_0000), (.sh2addUW, 0xFFFF_FFFF_FFFF_FFFF, 4, 0x4_0000_0000),
        (.sh3addUW, 0xDEAD_0000_0000_0001, 0x10, 0x18),
        (.slliUW, 0xFFFF_FFFF_8000_0000, 1, 0x1_0000_0000), (.slliUW, 0xFFFF_FFFF_FFFF_FFFF, 63, minSigned),
        (.andn, 0xF0, 0x30, 0xC0), (.andn, ones, ones, 0),
        (.orn, 0, 0, ones), (.orn, 0x0F, ~UInt64(0xF0), 0xFF),
        (.xnor, 0x1234, 0x1234, ones), (.xnor, 0, ones, 0),
        (.clz, 0, 0, 64), (.clz, 1, 0, 63), (.clz, minSigned, 0, 0), (.clz, 0x0000_0001_0000_0000, 0, 31),
        (.clzw, 0, 0, 32), (.clzw, 0xFFFF_FFFF_0000_0001, 0, 31), (.clzw, 0x8000_0000, 0, 0),
        (.ctz, 0, 0, 64), (.ctz, minSigned, 0, 63), (.ctz, 0x10, 0, 4),
        (.ctzw, 0x1_0000_0000, 0, 32), (.ctzw, 0x8000_0000, 0, 31), (.ctzw, 1, 0, 0),
        (.cpop, ones, 0, 64), (.cpop, 0, 0, 0), (.cpop, 0x8000_0000_0000_0101, 0, 3),
        (.cpopw, 0xFFFF_FFFF_0000_000F, 0, 4), (.cpopw, 0xFFFF_FFFF, 0, 32),
        (.max, ones, 1, 1), (.max, minSigned, minSigned - 1, minSigned - 1),
        (.maxu, ones, 1, ones), (.maxu, 0, 0, 0),
        (.min, ones, 1, ones), (.min, minSigned, 0, minSigned),
        (.minu, ones, 1, 1), (.minu, minSigned, minSigned - 1, minSigned - 1),
        (.sextB, 0x80, 0, 0xFFFF_FFFF_FFFF_FF80), (.sextB, 0x7F, 0, 0x7F), (.sextB, 0xFFFF_FFFF_FFFF_FF00, 0, 0),
        (.sextH, 0x8000, 0, 0xFFFF_FFFF_FFFF_8000), (.sextH, 0x1_7FFF, 0, 0x7FFF),
        (.zextH, 0xFFFF_FFFF_FFFF_8001, 0, 0x8001), (.zextH, 0x1_0000, 0, 0),
        (.rol, minSigned | 1, 1, 3), (.rol, minSigned | 1, 65, 3), (.rol, 0x1234, 0, 0x1234),
        (.ror, 1, 1, minSigned), (.ror, 3, 64 + 1, minSigned | 1), (.ror, 0x1234, 0, 0x1234),
        (.rori, 0xFF, 4, 0xF000_0000_0000_000F), (.rori, 0x1234, 0, 0x1234), (.rori, 2, 63, 4),
        (.rolw, 0x8000_0001, 1, 3), (.rolw, 0x4000_0000, 1, 0xFFFF_FFFF_8000_0000), (.rolw, 0xFFFF_FFFF_0000_0001, 33, 2),
        (.rorw, 1, 1, 0xFFFF_FFFF_8000_0000), (.rorw, 0xDEAD_0000_0000_0002, 1, 1), (.rorw, 0x8000_0000, 0, 0xFFFF_FFFF_8000_0000),
        (.roriw, 1, 1, 0xFFFF_FFFF_8000_0000), (.roriw, 0x0000_0000_F000_0000, 28, 0xF), (.roriw, 0x7FFF_FFFF, 0, 0x7FFF_FFFF),
        (.orcB, 0x0001_0000_0000_FF00, 0, 0x00FF_0000_0000_FF00), (.orcB, 0, 0, 0), (.orcB, 0x0101_0101_0101_0101, 0, ones),
        (.rev8, 0x0102_0304_0506_0708, 0, 0x0807_0605_0403_0201), (.rev8, 0xFF, 0, 0xFF00_0000_0000_0000),
    ]

    @Test func everyOperationGivesTheSpecificationsValues() {
        var failures: [String] = []
        for (op, a, b, expected) in Self.table {
            let shift = op.shape == .shift
            let got = RISCVBitManipulation.evaluate(op, a, shift ? 0 : b, shamt: shift ? UInt32(b) : 0)
            if got != expected { failures.append("\(op.mnemonic)(0x\(String(a, radix: 16)), \(b)) = 0x\(String(got, radix: 16)), want 0x\(String(expected, radix: 16))") }
        }
        #expect(Set(Self.table.map(\.0)) == Set(Op.allCases), "every operation has table rows")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// The assembly text of `op` with the given registers (and shift amount).
    static func text(_ op: Op, rd: UInt32, rs1: UInt32, rs2: UInt32, shamt: UInt32) -> String {
        switch op.shape {
        case .registers: "\(op.mnemonic) x\(rd), x\(rs1), x\(rs2)"
        case .unary: "\(op.mnemonic) x\(rd), x\(rs1)"
        case .shift: "\(op.mnemonic) x\(rd), x\(rs1), \(shamt)"
        }
    }

    static let llvm = LLVMMC(triple: "riscv64", attributes: ["+m", "+a", "+c", "+zba", "+zbb"], prologue: [".option norvc"])

    static func word(_ bytes: [UInt8?]) -> UInt32 {
        bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element ?? 0) << (8 * UInt32($1.offset)) }
    }

    /// Each form, with registers and shift amounts over their ranges, as
    /// llvm-mc encodes it, decodes to what was written.
    @Test func theDecoderReadsLLVMsEncodings() throws {
        guard LLVMMC.isInstalled else {
            Issue.record("\(LLVMMC.path) is missing: install Debian's llvm-14")
            return
        }
        var expected: [RISCVBitManipulation.Instruction] = [], lines: [String] = []
        let registers: [(UInt32, UInt32, UInt32)] = [(10, 11, 12), (0, 31, 1), (31, 0, 30), (5, 5, 5), (17, 28, 9)]
        for op in Op.allCases {
            let shamts: [UInt32] = op.shape == .shift ? (op == .roriw ? [0, 1, 17, 31] : [0, 1, 31, 32, 63]) : [0]
            for (rd, rs1, rs2) in registers {
                for shamt in shamts {
                    let instruction = RISCVBitManipulation.Instruction(op, rd: rd, rs1: rs1, rs2: op.shape == .registers ? rs2 : 0,
                                                                       shamt: shamt)
                    expected.append(instruction)
                    lines.append(Self.text(op, rd: rd, rs1: rs1, rs2: rs2, shamt: shamt))
                }
            }
        }
        let (encodings, diagnostics) = try Self.llvm.encode(lines)
        #expect(diagnostics.isEmpty, "\(diagnostics.prefix(2000))")
        try #require(encodings.count == lines.count)
        var failures: [String] = []
        for (k, bytes) in encodings.enumerated() {
            let decoded = RISCVBitManipulation.decode(Self.word(bytes))
            if bytes.count != 4 || decoded != expected[k] { failures.append("\(lines[k]): \(LLVMMC.hex(bytes.map { $0 ?? 0 })) decoded as \(decoded.map(\.description) ?? "nothing")") }
        }
        print("Zba/Zbb decoding: \(lines.count) encodings from llvm-mc, \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.prefix(20).joined(separator: "\n"))")
        // Neighbouring encodings that are not Zba/Zbb stay undecoded.
        let others = ["add a0, a1, a2", "slli a0, a1, 3", "srai a0, a1, 7", "addw a0, a1, a2", "slliw a0, a1, 3",
                      "sraiw a0, a1, 3", "mul a0, a1, a2", "divw a0, a1, a2", "sub a0, a1, a2", "sraw a0, a1, a2", "ebreak"]
        for (line, bytes) in zip(others, try Self.llvm.encode(others).encodings) {
            #expect(RISCVBitManipulation.decode(Self.word(bytes)) == nil, "\(line)")
        }
    }

    /// The machine's hook on every operation: `op a0, a0, a1` (or its unary
    /// and shift forms) then `ret`, run with a0 and a1 from the table; and a
    /// destination of x0 changes nothing.
    @Test func theMachinePerformsEachOperation() throws {
        guard LLVMMC.isInstalled else { return }
        let machine = try EmulatedMachine(architecture: .riscv64(zba: true, zbb: true))
        var failures: [String] = []
        let ret: [UInt8] = [0x67, 0x80, 0x00, 0x00]
        let lines = Self.table.map { Self.text($0.0, rd: 10, rs1: 10, rs2: 11, shamt: UInt32(truncatingIfNeeded: $0.2)) }
        let encodings = try Self.llvm.encode(lines).encodings
        try #require(encodings.count == lines.count)
        for ((op, a, b, expected), bytes) in zip(Self.table, encodings) {
            let image = bytes.map { $0 ?? 0 } + ret
            let program = try machine.load(image: image, in: try machine.reserveImage(size: image.count))
            let run = try program.run(arguments: [.value(a), .value(b)])
            if run.value != expected { failures.append("\(op.mnemonic): 0x\(String(run.value, radix: 16)), want 0x\(String(expected, radix: 16))") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // rd = x0: the result is dropped; a0 keeps its value and the run goes on.
        let zero = try Self.llvm.encode(["sext.b x0, x10", "addi x10, x10, 1"]).encodings.flatMap { $0.map { $0 ?? 0 } } + ret
        let program = try machine.load(image: zero, in: try machine.reserveImage(size: zero.count))
        #expect(try program.run(arguments: [.value(0x80)]).value == 0x81)
    }

    /// A machine performs only the extensions it was configured with: the
    /// plain riscv64 row faults on both, a Zba machine on Zbb's forms and a
    /// Zbb machine on Zba's, naming the instruction.
    @Test func otherInstructionsStayFaults() throws {
        guard LLVMMC.isInstalled else { return }
        let ret: [UInt8] = [0x67, 0x80, 0x00, 0x00]
        let sextb = try Self.llvm.encode(["sext.b a0, a0"]).encodings[0].map { $0 ?? 0 } + ret
        let adduw = try Self.llvm.encode(["add.uw a0, a0, zero"]).encodings[0].map { $0 ?? 0 } + ret
        // c.unimp (0x0000) and a word no extension defines.
        let unimp: [UInt8] = [0x00, 0x00, 0x00, 0x00]
        let undefined: [UInt8] = [0x33, 0x45, 0xb5, 0xfe] + ret
        func outcome(_ image: [UInt8], on architecture: EmulatedArchitecture) throws -> Result<UInt64, ExecutionError> {
            let machine = try EmulatedMachine(architecture: architecture)
            let program = try machine.load(image: image, in: try machine.reserveImage(size: image.count))
            do throws(ExecutionError) { return .success(try program.run(arguments: [.value(0x1_0000_0080)]).value) } catch { return .failure(error) }
        }
        func faults(_ result: Result<UInt64, ExecutionError>) -> Bool {
            if case .failure(.unsupported(_, let what)) = result { return what.contains("raised") }
            return false
        }
        #expect(faults(try outcome(sextb, on: .riscv64)))
        #expect(faults(try outcome(adduw, on: .riscv64)))
        #expect(faults(try outcome(sextb, on: .riscv64(zba: true, zbb: false))))
        #expect(faults(try outcome(adduw, on: .riscv64(zba: false, zbb: true))))
        #expect(try outcome(sextb, on: .riscv64(zba: false, zbb: true)).get() == 0xFFFF_FFFF_FFFF_FF80)
        #expect(try outcome(adduw, on: .riscv64(zba: true, zbb: false)).get() == 0x80)
        #expect(faults(try outcome(unimp, on: .riscv64(zba: true, zbb: true))))
        #expect(faults(try outcome(undefined, on: .riscv64(zba: true, zbb: true))))
    }

    /// The encoder's Zba/Zbb forms decode to the instruction they name, so
    /// what the backend emits is what the hook performs.
    @Test func theEncodersFormsAreTheHooksForms() throws {
        let asm = JITAssembler<RV64Branch>(instructionCount: 0, functionCount: 0, capacityHint: 256, padder: { _, _ in })
        let e = RV64Encoder(asm, zba: true)
        let d = RV64Register.t3, a = RV64Register.a5, b = RV64Register.s2
        e.zextw(d, a); e.zeroExtend32(d, a); e.sextb(d, a); e.sexth(d, a); e.zexth(d, a); e.rev8(d, a)
        e.shadd(1, d, a, b); e.shadd(2, d, a, b); e.shadd(3, d, a, b)
        let bytes = asm.code.bytes
        let words = stride(from: 0, to: bytes.count, by: 4).map { Self.word(Array(bytes[$0..<$0 + 4])) }
        typealias I = RISCVBitManipulation.Instruction
        let expected = [I(.addUW, rd: 28, rs1: 15), I(.addUW, rd: 28, rs1: 15), I(.sextB, rd: 28, rs1: 15), I(.sextH, rd: 28, rs1: 15),
                        I(.zextH, rd: 28, rs1: 15), I(.rev8, rd: 28, rs1: 15), I(.sh1add, rd: 28, rs1: 15, rs2: 18),
                        I(.sh2add, rd: 28, rs1: 15, rs2: 18), I(.sh3add, rd: 28, rs1: 15, rs2: 18)]
        #expect(words.map(RISCVBitManipulation.decode) == expected)
    }

    static let options = RV64Options(zba: true, zbb: true)

    /// With Zba/Zbb the lowering uses them where the kernel's JIT does, and
    /// the code runs (under the hook) to the interpreter's results.
    @Test func theLoweringUsesThemAndMatchesTheInterpreter() throws {
        let program = Program([
            .loadImmediate64(dst: .r0, .value(0x8123_4567_89AB_CDEF)),
            .alu(.w64, .mov, dst: .r2, .register(.r0)),
            .movsx(.w64, dst: .r3, src: .r2, bits: 8),          // sext.b
            .movsx(.w32, dst: .r4, src: .r2, bits: 16),         // sext.h; zext.w
            .byteSwap(.toBigEndian, dst: .r2, bits: 32),        // rev8; srli 32
            .alu(.w64, .add, dst: .r0, .register(.r2)),
            .alu(.w64, .xor, dst: .r0, .register(.r3)),
            .alu(.w64, .add, dst: .r0, .register(.r4)),
            .alu(.w32, .add, dst: .r0, .immediate(7)),          // addiw; zext.w
            .byteSwap(.toLittleEndian, dst: .r4, bits: 16),     // zext.h
            .alu(.w64, .lsh, dst: .r4, .immediate(32)),
            .alu(.w64, .or, dst: .r0, .register(.r4)),
            .byteSwap(.swap, dst: .r0, bits: 64),               // rev8
            .exit,
        ])
        let image = try RV64JIT.listingImage(program, configuration: EngineConfiguration(), options: Self.options)
        let listing = try JITListing(image: image, program: program)
        let mnemonics = Set(listing.sections.flatMap { $0.instructions.map { String($0.text.split(separator: " ")[0]) } })
        for name in ["sext.b", "sext.h", "zext.h", "rev8", "add.uw"] { #expect(mnemonics.contains(name), "\(name) in \(mnemonics.sorted())") }
        let plain = try RV64JIT.listingImage(program, configuration: EngineConfiguration())
        #expect(image.size < plain.size, "Zba/Zbb \(image.size) bytes, plain \(plain.size)")
        for options in [Self.options, RV64Options(compressed: true, zba: true, zbb: true), RV64Options(zba: true), RV64Options(zbb: true)] {
            let got = BackendMatrix.outcome(program, memory: [], on: RV64JIT(options: options))
            let reference = BackendMatrix.outcome(program, memory: [], on: Interpreter())
            #expect(got == reference, "\(options.extensionNames): jit \(got), interpreter \(reference)")
        }
    }

    @Test func extensionListsParse() {
        #expect(RV64Options.parsingExtensions("c,zba,zbb").options == RV64Options(compressed: true, zba: true, zbb: true))
        #expect(RV64Options.parsingExtensions("ZBB").options == RV64Options(zbb: true))
        #expect(RV64Options.parsingExtensions("none").options == RV64Options())
        #expect(RV64Options.parsingExtensions("zba,zbc").unknown == "zbc")
    }
}
