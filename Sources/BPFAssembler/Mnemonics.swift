import BPFISA

/// What a conformance-syntax mnemonic means, apart from its operands.
///
/// The assembler looks a mnemonic up to get its form; the conformance-style
/// disassembler looks a form up to get its canonical mnemonic. Both read the
/// one table in `Mnemonics`, so the two directions cannot drift apart.
enum MnemonicForm: Hashable, Sendable {
    case alu(Width, ALUOperation)
    case neg(Width)
    case movsx(Width, bits: UInt8)
    case byteSwap(ByteSwapKind, bits: UInt8)
    /// `ja`: JMP class, 16-bit offset.
    case jump
    /// `ja32`: JMP32 class, 32-bit offset in `imm` (LLVM's `gotol`).
    case jumpLong
    case branch(Width, JumpCondition)
    /// `call`, whose first operand word says which kind (see `Assembler+Operands`).
    case call
    case exit
    case loadImmediate64
    case load(AccessSize)
    case loadSignExtend(AccessSize)
    case storeImmediate(AccessSize)
    case store(AccessSize)
    /// Written `lock [fetch] op[32]`; the table holds the whole phrase.
    case atomic(Width, AtomicOperation)

    /// The form an instruction is written with, or nil for the tail slot of a 64-bit load.
    init?(_ instruction: Instruction) {
        switch instruction {
        case .alu(let w, let op, _, _): self = .alu(w, op)
        case .neg(let w, _): self = .neg(w)
        case .movsx(let w, _, _, let bits): self = .movsx(w, bits: bits)
        case .byteSwap(let kind, _, let bits): self = .byteSwap(kind, bits: bits)
        case .jump: self = .jump
        case .jumpLong: self = .jumpLong
        case .branch(let w, let c, _, _, _): self = .branch(w, c)
        case .call: self = .call
        case .exit: self = .exit
        case .loadImmediate64: self = .loadImmediate64
        case .immediate64Tail: return nil
        case .load(let s, _, _, _): self = .load(s)
        case .loadSignExtend(let s, _, _, _): self = .loadSignExtend(s)
        case .storeImmediate(let s, _, _, _): self = .storeImmediate(s)
        case .store(let s, _, _, _): self = .store(s)
        case .atomic(let w, let op, _, _, _): self = .atomic(w, op)
        }
    }
}

/// The mnemonic table of the conformance syntax (the bpf_conformance project's
/// assembler, extended with the cpu v4 forms the corpus uses).
///
/// Rows are listed canonical name first; later rows for the same form are
/// aliases the assembler accepts but the disassembler never prints
/// (`add64` for `add`, `bswap16` for `swap16`, `lock fetch xchg` for `lock xchg`).
enum Mnemonics {
    static let rows: [(name: String, form: MnemonicForm)] = {
        var rows: [(String, MnemonicForm)] = []
        for op in ALUOperation.allCases {
            rows += [(aluName(op), .alu(.w64, op)), (aluName(op) + "32", .alu(.w32, op)), (aluName(op) + "64", .alu(.w64, op))]
        }
        rows += [("neg", .neg(.w64)), ("neg32", .neg(.w32)), ("neg64", .neg(.w64))]
        // movsx<from><to>: the destination width picks ALU (32) or ALU64 (64).
        rows += [("movsx832", .movsx(.w32, bits: 8)), ("movsx1632", .movsx(.w32, bits: 16)),
                 ("movsx864", .movsx(.w64, bits: 8)), ("movsx1664", .movsx(.w64, bits: 16)),
                 ("movsx3264", .movsx(.w64, bits: 32))]
        for bits: UInt8 in [16, 32, 64] {
            rows += [("le\(bits)", .byteSwap(.toLittleEndian, bits: bits)),
                     ("be\(bits)", .byteSwap(.toBigEndian, bits: bits)),
                     ("swap\(bits)", .byteSwap(.swap, bits: bits)),
                     ("bswap\(bits)", .byteSwap(.swap, bits: bits))]
        }
        rows += [("ja", .jump), ("ja32", .jumpLong)]
        for condition in JumpCondition.allCases {
            rows += [(branchName(condition), .branch(.w64, condition)), (branchName(condition) + "32", .branch(.w32, condition))]
        }
        rows += [("call", .call), ("exit", .exit), ("lddw", .loadImmediate64)]
        for size in AccessSize.allCases {
            rows += [("ldx" + sizeSuffix(size), .load(size)),
                     ("st" + sizeSuffix(size), .storeImmediate(size)),
                     ("stx" + sizeSuffix(size), .store(size))]
            if size != .double { rows.append(("ldxs" + sizeSuffix(size), .loadSignExtend(size))) }
        }
        for operation in AtomicOperation.all {
            for (width, suffix) in [(Width.w64, ""), (Width.w32, "32")] {
                rows.append((atomicName(operation) + suffix, .atomic(width, operation)))
                if operation == .xchg || operation == .cmpxchg {
                    // Both always fetch; accept the word for symmetry with the other operations.
                    rows.append(("lock fetch " + (operation == .xchg ? "xchg" : "cmpxchg") + suffix, .atomic(width, operation)))
                }
            }
        }
        return rows
    }()

    /// Mnemonic (or `lock` phrase) to form.
    static let forms: [String: MnemonicForm] = Dictionary(rows.map { ($0.name, $0.form) }, uniquingKeysWith: { first, _ in first })

    /// Form to canonical mnemonic: the first row that names it.
    static let names: [MnemonicForm: String] = Dictionary(rows.map { ($0.form, $0.name) }, uniquingKeysWith: { first, _ in first })

    static func aluName(_ op: ALUOperation) -> String {
        switch op {
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .div: "div"
        case .sdiv: "sdiv"
        case .or: "or"
        case .and: "and"
        case .lsh: "lsh"
        case .rsh: "rsh"
        case .mod: "mod"
        case .smod: "smod"
        case .xor: "xor"
        case .mov: "mov"
        case .arsh: "arsh"
        }
    }

    static func branchName(_ condition: JumpCondition) -> String {
        switch condition {
        case .eq: "jeq"
        case .gt: "jgt"
        case .ge: "jge"
        case .set: "jset"
        case .ne: "jne"
        case .sgt: "jsgt"
        case .sge: "jsge"
        case .lt: "jlt"
        case .le: "jle"
        case .slt: "jslt"
        case .sle: "jsle"
        }
    }

    static func sizeSuffix(_ size: AccessSize) -> String {
        switch size {
        case .byte: "b"
        case .half: "h"
        case .word: "w"
        case .double: "dw"
        }
    }

    /// The 64-bit phrase; the 32-bit one appends `32` (`lock fetch add32`).
    static func atomicName(_ operation: AtomicOperation) -> String {
        switch operation {
        case .add(let fetch): fetch ? "lock fetch add" : "lock add"
        case .or(let fetch): fetch ? "lock fetch or" : "lock or"
        case .and(let fetch): fetch ? "lock fetch and" : "lock and"
        case .xor(let fetch): fetch ? "lock fetch xor" : "lock xor"
        case .xchg: "lock xchg"
        case .cmpxchg: "lock cmpxchg"
        }
    }
}
