import BPFISA

/// Two MIPS registers holding one 64-bit BPF value: `lo` bits 0–31, `hi` bits 32–63.
public struct MIPS32Pair: Hashable, Sendable {
    public let lo: MIPS32Register
    public let hi: MIPS32Register

    public init(_ lo: MIPS32Register, _ hi: MIPS32Register) {
        self.lo = lo
        self.hi = hi
    }

    /// The pair's registers in O32 memory order: the one that holds the word
    /// at the lower address of the 64-bit value's memory image first.
    public func memoryOrder(bigEndian: Bool) -> (first: MIPS32Register, second: MIPS32Register) {
        bigEndian ? (hi, lo) : (lo, hi)
    }
}

/// Where each BPF register lives on a MIPS32 core: every one in a register
/// pair, none in memory.
///
/// | BPF   | pair (first, second) | why                                                                 |
/// |-------|----------------------|---------------------------------------------------------------------|
/// | r0    | v0, v1               | O32 returns a 64-bit value there: a helper's result needs no move   |
/// | r1    | a0, a1               | O32 argument registers: r1 and r2 are a helper's first two 64-bit   |
/// | r2    | a2, a3               | arguments as they stand, and the program's entry arguments too      |
/// | r3–r5 | t0:t1, t2:t3, t4:t5  | caller-saved, as BPF r3–r5 are; stack arguments are stored from here |
/// | r6–r9 | s0:s1 … s6:s7        | callee-saved in O32 and in BPF: survive every call untouched         |
/// | r10   | fp, zero             | the frame pointer is a 32-bit address; its high word reads as $zero  |
/// | ax    | t8, t9 (lo, hi)      | constant blinding only: where an immediate operand is built anyway  |
/// | —     | gp                   | base of the run words (context, exit sp, call depth, tail calls)    |
/// | —     | t6 t7 t8 t9 at       | scratch; t9 holds a host callee's address (O32), at long branches    |
///
/// This is the kernel MIPS32 JIT's mapping except for AX (gp, at there):
/// here gp bases the run words instead of a slot off sp, and at is a
/// scratch register. AX (`Register.ax`, constant blinding, `JITBlinding`)
/// stands for the immediate it replaces: blinding writes it (`mov`, `xor`,
/// `lsh`) just before the one instruction that reads it, so it lives in
/// t8:t9, the pair an immediate operand is built in, and every lowering
/// reads its operand before it uses t8 or t9 as scratch. Two exceptions
/// are handled where they occur: `xor ax, imm` builds its key in t6, and a
/// store's slow bounds check (a host call) saves t8:t9 around the call
/// when the program uses AX. The pair keeps lo in t8 in either byte order.
/// k0/k1 are left to the kernel. Within a pair the first register holds the word at the lower
/// address (O32 "memory order"): the low word on mips32le, the high word on
/// mips32be, so a pair is laid out as O32 passes and returns a 64-bit value
/// in either byte order.
public enum MIPS32RegisterMap {
    public static let runWords = MIPS32Register.gp

    /// The pair of a BPF register on a target of the given byte order.
    @inline(__always)
    public static func pair(_ register: Register, bigEndian: Bool) -> MIPS32Pair {
        let (first, second): (MIPS32Register, MIPS32Register)
        switch register {
        case .r0: (first, second) = (.v0, .v1)
        case .r1: (first, second) = (.a0, .a1)
        case .r2: (first, second) = (.a2, .a3)
        case .r3: (first, second) = (.t0, .t1)
        case .r4: (first, second) = (.t2, .t3)
        case .r5: (first, second) = (.t4, .t5)
        case .r6: (first, second) = (.s0, .s1)
        case .r7: (first, second) = (.s2, .s3)
        case .r8: (first, second) = (.s4, .s5)
        case .r9: (first, second) = (.s6, .s7)
        case .ax: return MIPS32Pair(.t8, .t9)
        default: return MIPS32Pair(.fp, .zero)
        }
        return bigEndian ? MIPS32Pair(second, first) : MIPS32Pair(first, second)
    }

    /// The registers a host call (a division routine, the bounds check) may
    /// destroy that hold BPF r0–r5; saved around such calls in this order.
    public static let callerSavedHomes: [MIPS32Register] = [.v0, .v1, .a0, .a1, .a2, .a3, .t0, .t1, .t2, .t3, .t4, .t5]

    /// Words at gp.
    public static let contextWord = 0       // guest address of the run context
    public static let exitStackWord = 4     // sp to unwind to on an error
    public static let depthWord = 8         // local calls in progress
    public static let tailCallWord = 12     // tail calls taken in this run
}
