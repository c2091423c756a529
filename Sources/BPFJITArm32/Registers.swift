import BPFISA

/// Two A32 registers holding one 64-bit BPF value: `lo` bits 0–31, `hi` bits 32–63.
public struct Arm32Pair: Hashable, Sendable {
    public let lo: Arm32Register
    public let hi: Arm32Register

    public init(_ lo: Arm32Register, _ hi: Arm32Register) {
        self.lo = lo
        self.hi = hi
    }
}

/// Where each BPF register lives on a 32-bit ARM core.
///
/// Every BPF register is 64 bits wide, so each needs two A32 registers; the
/// core has 13 usable ones (r0–r12; sp, lr and pc are taken, and lr is only
/// free as a scratch between calls). Eleven BPF registers cannot all be
/// resident. The map follows one rule: what must survive a call lives in
/// callee-saved registers, what a call clobbers anyway lives in memory.
///
/// | BPF        | home                   | why                                                           |
/// |------------|------------------------|---------------------------------------------------------------|
/// | r0         | slot `[r11, #0]`       | a helper's result lands in r0:r1 and is stored there once     |
/// | r1–r5      | slots `[r11, #8…#40]`  | arguments: rebuilt per AAPCS for every helper call anyway     |
/// | r6         | r4:r5                  | callee-saved in both ABIs: survives helper calls untouched    |
/// | r7         | r6:r7                  | callee-saved                                                  |
/// | r8         | r8:r9                  | callee-saved                                                  |
/// | r9         | slot `[r11, #48]`      | no even/odd callee-saved pair left                            |
/// | r10        | r10 (hi word always 0) | the frame pointer is a 32-bit address                         |
/// | ax         | slot `[r11, #72]`      | constant blinding only; no pair is left, and the kernel's arm32 JIT keeps it in memory too |
/// | —          | r11                    | base of the register slots (one block per run)                |
/// | scratch    | r0:r1, r2:r3, r12, lr  | operands in flight; AAPCS argument and result registers       |
///
/// Pairs are even/odd (r4:r5…) so that `ldrd`/`strd`/`ldrexd`/`strexd` move
/// them in one instruction. The slots are shared by every function of the
/// run (BPF passes r1–r5 to a local call and gets r0 back, and a callee
/// saves the r6–r9 it is given), so a local call needs no copying.
///
/// `ax`, the auxiliary register of constant blinding (`JITBlinding`), takes
/// the place of an immediate: it is written by `mov`/`xor` just before the
/// one instruction that reads it, so it only needs a home that survives
/// the slow bounds check of a blinded store. A slot is that: its loads go
/// into the same scratch pair (r2:r3) an immediate operand is built in.
public enum Arm32RegisterMap {
    /// A dst that is not resident is worked on here.
    public static let a = Arm32Pair(.r0, .r1)
    /// A src or immediate that is not resident is loaded here.
    public static let b = Arm32Pair(.r2, .r3)
    /// The BPF frame pointer (low word).
    public static let framePointer = Arm32Register.r10
    /// Base of the register slots.
    public static let slots = Arm32Register.r11

    /// The resident pair of a BPF register, if it has one.
    @inline(__always)
    public static func resident(_ register: Register) -> Arm32Pair? {
        switch register {
        case .r6: Arm32Pair(.r4, .r5)
        case .r7: Arm32Pair(.r6, .r7)
        case .r8: Arm32Pair(.r8, .r9)
        default: nil
        }
    }

    /// Offset of a slot-homed register's slot from r11.
    @inline(__always)
    public static func slot(_ register: Register) -> Int {
        switch register {
        case .r9: 48
        case .ax: auxiliarySlot
        default: Int(register.rawValue) * 8
        }
    }

    /// The run's own words after the register slots.
    public static let contextSlot = 56      // guest address of the run context
    public static let exitStackSlot = 60    // sp to unwind to on an error
    public static let depthSlot = 64        // local calls in progress
    public static let auxiliarySlot = 72    // ax (constant blinding)
    /// Bytes of the slot block (a multiple of 8).
    public static let slotBytes = 80
}
