import BPFISA

/// One generated test: a small program, the memory r1 points to (its length
/// in r2), and the value r0 must hold when the program exits.
///
/// Engines run every case the same way (the idea of lib/test_bpf.c's single
/// table): place `memory` in a writable input region, set r1 to its address
/// and r2 to its length, run, compare r0 with `expected`.
public struct GeneratedCase: Sendable, CustomStringConvertible {
    public var name: String
    public var program: Program
    public var memory: [UInt8]
    public var expected: UInt64

    public init(name: String, program: Program, memory: [UInt8] = [], expected: UInt64) {
        self.name = name
        self.program = program
        self.memory = memory
        self.expected = expected
    }

    public var description: String { name }
}

/// The generated suite, by category. Expected values come from `Reference`,
/// never from running an engine.
public enum GeneratedSuite {
    /// Every case of every category.
    public static func all() -> [GeneratedCase] {
        alu64() + alu32() + jumps64() + jumps32() + loadImmediate64() + memory() + atomics()
    }

    /// Every category with its name, for per-category reporting.
    public static func categories() -> [(name: String, cases: [GeneratedCase])] {
        [("alu64", alu64()), ("alu32", alu32()), ("jmp", jumps64()), ("jmp32", jumps32()),
         ("ld_imm64", loadImmediate64()), ("memory", memory()), ("atomic", atomics())]
    }

    /// ALU64: every operation in register and immediate form, NEG, MOVSX, BSWAP.
    public static func alu64() -> [GeneratedCase] { ALUCases(width: .w64).all() }

    /// ALU: every operation in register and immediate form, NEG, MOVSX, END.
    public static func alu32() -> [GeneratedCase] { ALUCases(width: .w32).all() }

    /// JMP: every condition in register and immediate form.
    public static func jumps64() -> [GeneratedCase] { JumpCases(width: .w64).all() }

    /// JMP32: every condition in register and immediate form, with high bits
    /// that must be ignored.
    public static func jumps32() -> [GeneratedCase] { JumpCases(width: .w32).all() }

    /// LD IMM64 with byte patterns in every position, into every register.
    public static func loadImmediate64() -> [GeneratedCase] { MemoryCases.loadImmediate64() }

    /// Loads and stores of every size, sign-extending loads, on the input and the stack.
    public static func memory() -> [GeneratedCase] { MemoryCases.loads() + MemoryCases.stores() }

    /// Every atomic operation on 32 and 64 bits, on the stack: the memory
    /// result, the fetched value, CMPXCHG success and failure.
    public static func atomics() -> [GeneratedCase] { AtomicCases.all() }
}

/// Small program-building shorthands shared by the generators.
enum Build {
    static func lddw(_ dst: Register, _ value: UInt64) -> Instruction { .loadImmediate64(dst: dst, .value(value)) }
    static func mov64(_ dst: Register, _ src: Register) -> Instruction { .alu(.w64, .mov, dst: dst, .register(src)) }
    static func mov64(_ dst: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: dst, .immediate(imm)) }

    /// A value no correct case expects: returned when a check inside a program fails.
    static let poison: UInt64 = 0xbad0_c0de_bad0_c0de

    /// Ends with r0 = `result` if `register` still holds `value`, else r0 = poison.
    /// (`scratch` must differ from `register` and `result`.)
    static func returnIfUnchanged(_ register: Register, equals value: UInt64, scratch: Register,
                                  result: Register) -> [Instruction] {
        [lddw(scratch, value),
         .branch(.w64, .eq, dst: register, .register(scratch), offset: 3),
         lddw(.r0, poison),
         .exit,
         mov64(.r0, result),
         .exit]
    }
}
