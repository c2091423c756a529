import BPFISA

/// A general-purpose x86-64 register by its encoding number (Intel SDM vol. 2A,
/// 2.1.5 "Addressing-Mode Encoding of ModR/M and SIB Bytes"; numbers 8–15 need
/// a REX prefix bit, table 2-4 of 2.2.1).
public struct GPR: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt8

    public static let rax = GPR(number: 0), rcx = GPR(number: 1), rdx = GPR(number: 2), rbx = GPR(number: 3)
    public static let rsp = GPR(number: 4), rbp = GPR(number: 5), rsi = GPR(number: 6), rdi = GPR(number: 7)
    public static let r8 = GPR(number: 8), r9 = GPR(number: 9), r10 = GPR(number: 10), r11 = GPR(number: 11)
    public static let r12 = GPR(number: 12), r13 = GPR(number: 13), r14 = GPR(number: 14), r15 = GPR(number: 15)

    public static let all: [GPR] = (0..<16).map { GPR(number: UInt8($0)) }

    /// The low three bits that go into ModRM/SIB/opcode.
    @inline(__always) var low: UInt8 { number & 7 }
    /// The REX bit (R, X or B) this register needs.
    @inline(__always) var high: UInt8 { number >> 3 }

    private static let names64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    public var description: String { Self.names64[Int(number)] }

    /// The name of the register at an operand size (Intel syntax), for tests and listings.
    public func name(_ size: OperandSize) -> String {
        let n = Int(number)
        switch size {
        case .qword: return Self.names64[n]
        case .dword: return n < 8 ? "e" + Self.names64[n].dropFirst() : Self.names64[n] + "d"
        case .word: return n < 8 ? String(Self.names64[n].dropFirst()) : Self.names64[n] + "w"
        case .byte:
            let low8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"]
            return n < 8 ? low8[n] : Self.names64[n] + "b"
        }
    }
}

/// Operand sizes: 8 and 16 bits take the byte opcodes or the 0x66 prefix,
/// 64 bits REX.W (Intel SDM vol. 1, 3.6 "Operand-Size and Address-Size Attributes").
public enum OperandSize: Int, Sendable, CaseIterable {
    case byte = 1, word = 2, dword = 4, qword = 8

    public init(_ access: AccessSize) {
        switch access {
        case .byte: self = .byte
        case .half: self = .word
        case .word: self = .dword
        case .double: self = .qword
        }
    }

    public init(_ width: Width) { self = width == .w64 ? .qword : .dword }

    /// Intel syntax pointer size keyword.
    public var pointer: String {
        switch self {
        case .byte: "byte ptr"
        case .word: "word ptr"
        case .dword: "dword ptr"
        case .qword: "qword ptr"
        }
    }
}

/// Condition codes of Jcc/SETcc/CMOVcc (Intel SDM vol. 1, appendix B, table B-1).
public enum Condition: UInt8, Sendable, CaseIterable {
    case o = 0x0, no = 0x1, b = 0x2, ae = 0x3, e = 0x4, ne = 0x5, be = 0x6, a = 0x7
    case s = 0x8, ns = 0x9, p = 0xa, np = 0xb, l = 0xc, ge = 0xd, le = 0xe, g = 0xf

    /// The BPF condition after `cmp dst, src` (or `test` for JSET).
    public init(_ condition: JumpCondition) {
        switch condition {
        case .eq: self = .e
        case .ne, .set: self = .ne
        case .gt: self = .a
        case .ge: self = .ae
        case .lt: self = .b
        case .le: self = .be
        case .sgt: self = .g
        case .sge: self = .ge
        case .slt: self = .l
        case .sle: self = .le
        }
    }

    /// The opposite condition (x86 condition codes come in pairs that differ in bit 0).
    public var negated: Condition { Condition(rawValue: rawValue ^ 1)! }

    public var mnemonic: String {
        ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"][Int(rawValue)]
    }
}

/// The BPF → x86-64 register map: one table, in the kernel's arrangement
/// (arch/x86/net/bpf_jit_comp.c), so that helper arguments need no moves.
///
/// | BPF   | x86-64 | why                                                        |
/// |-------|--------|------------------------------------------------------------|
/// | r0    | rax    | return value of helpers and of the program                 |
/// | r1    | rdi    | 1st SysV argument: helper argument 1, program argument 1   |
/// | r2    | rsi    | 2nd SysV argument                                          |
/// | r3    | rdx    | 3rd SysV argument (also the dividend's high half: div/mod) |
/// | r4    | rcx    | 4th SysV argument (also the shift count `cl`)              |
/// | r5    | r8     | 5th SysV argument                                          |
/// | r6–r9 | rbx, r13, r14, r15 | callee-saved: survive helper calls            |
/// | r10   | rbp    | BPF frame pointer (top of the current 512-byte frame)      |
/// | —     | r12    | pinned: the run context (`JITRunContext`); callee-saved    |
/// | —     | r9     | scratch; the 6th SysV argument (run context) at host calls |
/// | —     | r10, r11 | scratch (r11: addresses of checked accesses)             |
///
/// rsp is the native stack pointer. r12 is the one register whose ModRM
/// encoding needs a SIB byte, so it holds the rarely-addressed context.
public enum RegisterMap {
    public static let table: [GPR] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .rbx, .r13, .r14, .r15, .rbp]
    public static let context = GPR.r12
    public static let scratch9 = GPR.r9
    public static let scratch10 = GPR.r10
    public static let scratch11 = GPR.r11
    /// BPF registers the called function must preserve, and their x86 homes.
    public static let calleeSaved: [(Register, GPR)] = [(.r6, .rbx), (.r7, .r13), (.r8, .r14), (.r9, .r15)]

    /// The table as a switch: lowering asks for every operand, and a switch
    /// compiles to a constant lookup where a global array would not.
    @inline(__always)
    public static func native(_ register: Register) -> GPR {
        switch register.rawValue {
        case 0: .rax
        case 1: .rdi
        case 2: .rsi
        case 3: .rdx
        case 4: .rcx
        case 5: .r8
        case 6: .rbx
        case 7: .r13
        case 8: .r14
        case 9: .r15
        case 11: .r9    // Register.ax, the auxiliary register of rewritten programs (constant blinding)
        default: .rbp
        }
    }
}
