import BPFEmulator
import BPFISA

/// Small hand-written functions for every target, in LLVM assembly syntax,
/// written to the calling convention of the architecture table (every
/// argument and result a 64-bit value; register pairs and 8-byte stack
/// slots on the 32-bit targets).
enum TestPrograms {
    /// MIPS register roles: O32 pairs are in memory order, so big endian
    /// swaps which register of a pair holds the low word.
    struct MIPSRoles {
        let bigEndian: Bool
        var arg1: (lo: String, hi: String) { bigEndian ? ("$a1", "$a0") : ("$a0", "$a1") }
        var arg2: (lo: String, hi: String) { bigEndian ? ("$a3", "$a2") : ("$a2", "$a3") }
        var result: (lo: String, hi: String) { bigEndian ? ("$v1", "$v0") : ("$v0", "$v1") }
        /// Offsets of the low and high words of the stack slot at `offset`.
        func slot(_ offset: Int) -> (lo: Int, hi: Int) { bigEndian ? (offset + 4, offset) : (offset, offset + 4) }
    }

    static func mips(_ architecture: EmulatedArchitecture) -> MIPSRoles? {
        architecture.name.hasPrefix("mips") ? MIPSRoles(bigEndian: architecture.byteOrder == .big) : nil
    }

    /// Returns the 64-bit sum of its five arguments.
    static func sum(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64":
            return "add x0, x0, x1\nadd x0, x0, x2\nadd x0, x0, x3\nadd x0, x0, x4\nret"
        case "riscv64":
            return "add a0, a0, a1\nadd a0, a0, a2\nadd a0, a0, a3\nadd a0, a0, a4\nret"
        case "arm32":
            var text = "adds r0, r0, r2\nadc r1, r1, r3\n"
            for offset in [0, 8, 16] {
                text += "ldr r2, [sp, #\(offset)]\nldr r3, [sp, #\(offset + 4)]\nadds r0, r0, r2\nadc r1, r1, r3\n"
            }
            return text + "bx lr"
        default:
            let m = mips(a)!
            let (lo, hi) = m.result
            var text = "addu \(lo), \(m.arg1.lo), \(m.arg2.lo)\nsltu $t0, \(lo), \(m.arg1.lo)\n"
                + "addu \(hi), \(m.arg1.hi), \(m.arg2.hi)\naddu \(hi), \(hi), $t0\n"
            for offset in [16, 24, 32] {
                let slot = m.slot(offset)
                text += "lw $t1, \(slot.lo)($sp)\nlw $t2, \(slot.hi)($sp)\naddu \(lo), \(lo), $t1\nsltu $t0, \(lo), $t1\n"
                    + "addu \(hi), \(hi), $t2\naddu \(hi), \(hi), $t0\n"
            }
            return text + "jr $ra\nnop"
        }
    }

    /// Loads the 32-bit word at arg1 + 8, stores it plus one at arg2 + 16,
    /// and returns the loaded word (zero-extended).
    static func copyWord(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64":
            return "ldr w9, [x0, #8]\nadd w10, w9, #1\nstr w10, [x1, #16]\nmov w0, w9\nret"
        case "riscv64":
            return "lwu t0, 8(a0)\naddi t1, t0, 1\nsw t1, 16(a1)\nmv a0, t0\nret"
        case "arm32":
            return "ldr r12, [r0, #8]\nadd r3, r12, #1\nstr r3, [r2, #16]\nmov r0, r12\nmov r1, #0\nbx lr"
        default:
            let m = mips(a)!
            return "lw $t0, 8(\(m.arg1.lo))\naddiu $t1, $t0, 1\nsw $t1, 16(\(m.arg2.lo))\nmove \(m.result.lo), $t0\n"
                + "jr $ra\nmove \(m.result.hi), $zero"
        }
    }

    /// Returns the 64-bit constant `value`.
    static func constant(_ value: UInt64, _ a: EmulatedArchitecture) -> String {
        let h = (0..<4).map { (value >> (16 * UInt64($0))) & 0xFFFF }
        switch a.name {
        case "arm64":
            return "movz x0, #\(h[0])\nmovk x0, #\(h[1]), lsl #16\nmovk x0, #\(h[2]), lsl #32\nmovk x0, #\(h[3]), lsl #48\nret"
        case "riscv64":
            return "li a0, \(value)\nret"
        case "arm32":
            return "movw r0, #\(h[0])\nmovt r0, #\(h[1])\nmovw r1, #\(h[2])\nmovt r1, #\(h[3])\nbx lr"
        default:
            let (lo, hi) = mips(a)!.result
            return "lui \(lo), \(h[1])\nori \(lo), \(lo), \(h[0])\nlui \(hi), \(h[3])\njr $ra\nori \(hi), \(hi), \(h[2])"
        }
    }

    /// Loads a native-width word from `address` (first instruction) and returns it.
    static func load(from address: UInt64, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "\(loadAddress(address, into: "x9", a))\nldr x0, [x9]\nret"
        case "riscv64": "\(loadAddress(address, into: "t0", a))\nld a0, 0(t0)\nret"
        case "arm32": "\(loadAddress(address, into: "r12", a))\nldr r0, [r12]\nmov r1, #0\nbx lr"
        default: "\(loadAddress(address, into: "$t0", a))\nlw $v0, 0($t0)\njr $ra\nmove $v1, $zero"
        }
    }

    /// Stores arg2's low word at arg1 + `offset`, returns 0.
    static func store(offset: Int, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "str w1, [x0, #\(offset)]\nmov x0, #0\nret"
        case "riscv64": "sw a1, \(offset)(a0)\nli a0, 0\nret"
        case "arm32": "str r2, [r0, #\(offset)]\nmov r0, #0\nmov r1, #0\nbx lr"
        default:
            "sw \(mips(a)!.arg2.lo), \(offset)(\(mips(a)!.arg1.lo))\nmove $v0, $zero\njr $ra\nmove $v1, $zero"
        }
    }

    /// Branches to itself forever (after one instruction that sets up nothing).
    static func endlessLoop(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "nop\n1: b 1b"
        case "riscv64": "nop\n1: j 1b"
        case "arm32": "nop\n1: b 1b"
        default: "nop\n1: b 1b\nnop"
        }
    }

    /// Counts down from arg1 to zero, one iteration per loop, returns 7.
    static func countdown(_ a: EmulatedArchitecture) -> (source: String, instructions: (UInt64) -> UInt64) {
        switch a.name {
        case "arm64":
            ("1: subs x0, x0, #1\nb.ne 1b\nmov x0, #7\nret", { 2 * $0 + 2 })
        case "riscv64":
            ("1: addi a0, a0, -1\nbnez a0, 1b\nli a0, 7\nret", { 2 * $0 + 2 })
        case "arm32":
            ("1: subs r0, r0, #1\nbne 1b\nmov r0, #7\nmov r1, #0\nbx lr", { 2 * $0 + 3 })
        default:
            ("move $t0, \(mips(a)!.arg1.lo)\n1: addiu $t0, $t0, -1\nbnez $t0, 1b\nnop\n"
                + "li \(mips(a)!.result.lo), 7\njr $ra\nmove \(mips(a)!.result.hi), $zero", { 3 * $0 + 4 })
        }
    }

    /// A register the test programs use for addresses.
    static func scratch(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "x9"
        case "riscv64": "t0"
        case "arm32": "r12"
        default: "$t0"
        }
    }

    /// The instruction sequence putting a code or data address in a register.
    static func loadAddress(_ address: UInt64, into register: String, _ a: EmulatedArchitecture) -> String {
        let h = (0..<4).map { (address >> (16 * UInt64($0))) & 0xFFFF }
        switch a.name {
        case "arm64":
            return "movz \(register), #\(h[0])\nmovk \(register), #\(h[1]), lsl #16\n"
                + "movk \(register), #\(h[2]), lsl #32\nmovk \(register), #\(h[3]), lsl #48"
        case "riscv64": return "li \(register), \(address)"
        case "arm32": return "movw \(register), #\(h[0])\nmovt \(register), #\(h[1])"
        default: return "lui \(register), \(h[1])\nori \(register), \(register), \(h[0])"
        }
    }
}
