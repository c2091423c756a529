import BPFISA

/// A general-purpose AArch64 register by its 5-bit encoding (Arm ARM, chapter C1,
/// "Register names"). Number 31 means the zero register (`xzr`/`wzr`) in most
/// operand positions and the stack pointer in a few (the base of loads and
/// stores, ADD/SUB immediate); the instruction decides, as in hardware, so
/// `.zr` and `.sp` are the same value under two names.
public struct Arm64Register: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt32

    @inlinable public init(_ number: UInt32) {
        precondition(number < 32, "AArch64 has 32 register encodings")
        self.number = number
    }

    /// x0–x30.
    @inlinable public static func x(_ n: UInt32) -> Arm64Register { Arm64Register(n) }

    public static let zr = Arm64Register(31)
    public static let sp = Arm64Register(31)
    /// The frame pointer and the link register of AAPCS64.
    public static let fp = Arm64Register(29)
    public static let lr = Arm64Register(30)

    public var description: String { name(.x) }

    /// The name at an operand size, reading 31 as the zero register (`xzr`, `wzr`).
    public func name(_ size: Arm64Size) -> String {
        if number == 31 { return size == .x ? "xzr" : "wzr" }
        return (size == .x ? "x" : "w") + String(number)
    }

    /// The name reading 31 as the stack pointer (`sp`, `wsp`).
    public func nameSP(_ size: Arm64Size = .x) -> String {
        if number == 31 { return size == .x ? "sp" : "wsp" }
        return name(size)
    }
}

/// Operand size of a data-processing instruction: the `sf` bit (Arm ARM,
/// chapter C4). W forms write the low 32 bits and zero the upper 32, which is
/// exactly what BPF's ALU32 asks of every result.
public enum Arm64Size: UInt32, Sendable, CaseIterable {
    case w = 0, x = 1

    public init(_ width: Width) { self = width == .w64 ? .x : .w }

    /// Bits in the register at this size.
    @inlinable public var bits: Int { self == .x ? 64 : 32 }
}

/// Condition codes of B.cond and friends (Arm ARM, chapter C1, "Condition code").
/// Inverting a condition flips its lowest bit (AL has no inverse we use).
public enum Arm64Condition: UInt32, Sendable, CaseIterable {
    case eq = 0, ne, hs, lo, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al

    public var inverted: Arm64Condition { Arm64Condition(rawValue: rawValue ^ 1)! }

    /// The condition after `cmp dst, src` (or `tst` for JSET).
    public init(_ condition: JumpCondition) {
        switch condition {
        case .eq: self = .eq
        case .ne, .set: self = .ne
        case .gt: self = .hi
        case .ge: self = .hs
        case .lt: self = .lo
        case .le: self = .ls
        case .sgt: self = .gt
        case .sge: self = .ge
        case .slt: self = .lt
        case .sle: self = .le
        }
    }

    public var mnemonic: String {
        ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"][Int(rawValue)]
    }
}

/// The BPF → AArch64 register map: one table, in the kernel's arrangement
/// (arch/arm64/net/bpf_jit_comp.c, `bpf2a64`) plus the registers BPFKit's
/// run-time checks pin.
///
/// | BPF   | AArch64 | why                                                              |
/// |-------|---------|------------------------------------------------------------------|
/// | r0    | x7      | apart from x0, which carries r1 into helpers; takes x0 after one |
/// | r1–r5 | x0–x4   | AAPCS64 argument registers: helper arguments need no moves        |
/// | r6–r9 | x19–x22 | callee-saved: survive helper and host calls                      |
/// | r10   | x25     | callee-saved; top of the current 512-byte BPF frame              |
/// | —     | x23     | pinned: start of the first input region (inline bounds checks)   |
/// | —     | x24     | pinned: lowest byte of the BPF stack (`context.stackBase`)       |
/// | —     | x26     | pinned: the run context (`JITRunContext`)                        |
/// | —     | x27     | pinned: the runaway guard's budget, counted down in a register   |
/// | —     | x9      | scratch: the address of a checked access, a callx helper number  |
/// | —     | x10     | scratch: materialised immediates, status and access-info words   |
/// | —     | x11–x13 | scratch: atomics, the check routine, the callx table walk        |
/// | —     | x16     | IP0: the target of an indirect call (move-wide + `blr x16`)      |
/// | —     | x29, x30| frame record and link register (AAPCS64)                          |
///
/// | ax    | x14     | the auxiliary register of rewritten programs (constant blinding) |
///
/// x5, x6, x8, x15, x17 are free; x18 (the platform register) is never
/// touched. The pinned x23, x24, x26 and x27 are callee-saved, so host
/// routines keep them; the entry prologue saves the host's values.
public enum Arm64RegisterMap {
    public static let table: [Arm64Register] = [.x(7), .x(0), .x(1), .x(2), .x(3), .x(4),
                                                .x(19), .x(20), .x(21), .x(22), .x(25)]
    public static let inputStart = Arm64Register.x(23)
    public static let stackBase = Arm64Register.x(24)
    public static let context = Arm64Register.x(26)
    public static let budget = Arm64Register.x(27)
    /// Scratch registers, by role.
    public static let address = Arm64Register.x(9)
    public static let immediate = Arm64Register.x(10)
    public static let scratch11 = Arm64Register.x(11)
    public static let scratch12 = Arm64Register.x(12)
    public static let scratch13 = Arm64Register.x(13)
    public static let callTarget = Arm64Register.x(16)
    /// BPF registers a called function must preserve, and their homes.
    public static let calleeSaved: [(Register, Arm64Register)] = [(.r6, .x(19)), (.r7, .x(20)), (.r8, .x(21)), (.r9, .x(22))]
    /// r1–r5, the helper arguments.
    public static let arguments: [Arm64Register] = [.x(0), .x(1), .x(2), .x(3), .x(4)]

    /// The table as a switch: lowering asks for every operand, and a switch
    /// compiles to a constant lookup where a global array would not.
    @inline(__always)
    public static func native(_ register: Register) -> Arm64Register {
        switch register.rawValue {
        case 0: .x(7)
        case 1: .x(0)
        case 2: .x(1)
        case 3: .x(2)
        case 4: .x(3)
        case 5: .x(4)
        case 6: .x(19)
        case 7: .x(20)
        case 8: .x(21)
        case 9: .x(22)
        case 11: .x(14)  // Register.ax, the auxiliary register of rewritten programs (constant blinding)
        default: .x(25)
        }
    }
}
