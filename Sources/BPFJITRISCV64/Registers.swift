import BPFISA

/// The BPF → RISC-V register map: the kernel's arrangement
/// (arch/riscv/net/bpf_jit_comp64.c, `regmap`) plus the registers
/// BPFKit's run-time checks pin.
///
/// | BPF   | RISC-V  | why                                                             |
/// |-------|---------|-----------------------------------------------------------------|
/// | r0    | a5      | apart from a0, which carries r1 into helpers; takes a0 after one |
/// | r1–r5 | a0–a4   | LP64 argument registers: helper arguments need no moves         |
/// | r6–r9 | s1–s4   | callee-saved: survive helper and host calls                     |
/// | r10   | s5      | callee-saved; top of the current 512-byte BPF frame             |
/// | ax    | t0      | the auxiliary register of blinded programs                      |
/// | —     | s6      | pinned: the run context (`JITRunContext`)                       |
/// | —     | s7      | pinned: the runaway guard's budget, counted down               |
/// | —     | s8      | pinned: start of the first input region (inline bounds checks)  |
/// | —     | s9      | pinned: lowest byte of the BPF stack (`context.stackBase`)      |
/// | —     | t1      | scratch: the address of a checked access, a callx number        |
/// | —     | t2      | scratch: materialised immediates, status and access-info words  |
/// | —     | t3–t5   | scratch: compares, division, atomics, byte swaps                |
/// | —     | t6      | the target of an indirect call (`auipc`/constant + `jalr`)      |
/// | —     | ra, sp  | return address and stack pointer (LP64)                          |
///
/// s0, s10, s11, a6, a7, gp and tp are never touched. The pinned s6–s9
/// are callee-saved, so host routines keep them; the entry prologue saves
/// the host's values of every s register.
public enum RV64RegisterMap {
    public static let context = RV64Register.s6
    public static let budget = RV64Register.s7
    public static let inputStart = RV64Register.s8
    public static let stackBase = RV64Register.s9
    public static let address = RV64Register.t1
    public static let immediate = RV64Register.t2
    public static let callTarget = RV64Register.t6
    /// BPF registers a called function must preserve, and their homes.
    public static let calleeSaved: [RV64Register] = [.s1, .s2, .s3, .s4]
    /// r1–r5, the helper arguments.
    public static let arguments: [RV64Register] = [.a0, .a1, .a2, .a3, .a4]

    @inline(__always)
    public static func native(_ register: Register) -> RV64Register {
        switch register.rawValue {
        case 0: .a5
        case 1: .a0
        case 2: .a1
        case 3: .a2
        case 4: .a3
        case 5: .a4
        case 6: .s1
        case 7: .s2
        case 8: .s3
        case 9: .s4
        case 11: .t0  // Register.ax (constant blinding)
        default: .s5
        }
    }
}
