import BPFEmulator

/// Functions that call a helper (or runtime call) at a given address, for
/// every target, following each ABI: save the return address and one
/// callee-saved register, pass arguments 3–5 on the stack on 32-bit targets.
extension TestPrograms {
    /// Calls `function(arg1, arg2, 3, 4, 5)` (arg1 and arg2 as received).
    /// With `addWordAtArg2`, returns the call's result plus the 32-bit word
    /// at arg2 read after the call; otherwise the call's result.
    static func call(_ function: UInt64, addWordAtArg2: Bool, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64":
            return """
                stp x29, x30, [sp, #-32]!
                str x19, [sp, #16]
                mov x19, x1
                mov x2, #3
                mov x3, #4
                mov x4, #5
                \(loadAddress(function, into: "x9", a))
                blr x9
                \(addWordAtArg2 ? "ldr w10, [x19]\nadd x0, x0, x10" : "")
                ldr x19, [sp, #16]
                ldp x29, x30, [sp], #32
                ret
                """
        case "riscv64":
            return """
                addi sp, sp, -32
                sd ra, 24(sp)
                sd s1, 16(sp)
                mv s1, a1
                li a2, 3
                li a3, 4
                li a4, 5
                \(loadAddress(function, into: "t0", a))
                jalr t0
                \(addWordAtArg2 ? "lwu t1, 0(s1)\nadd a0, a0, t1" : "")
                ld s1, 16(sp)
                ld ra, 24(sp)
                addi sp, sp, 32
                ret
                """
        case "arm32":
            var text = "push {r4, lr}\nmov r4, r2\nsub sp, sp, #24\n"
            for (index, value) in [3, 4, 5].enumerated() {
                text += "mov r12, #\(value)\nstr r12, [sp, #\(8 * index)]\nmov r12, #0\nstr r12, [sp, #\(8 * index + 4)]\n"
            }
            text += "\(loadAddress(function, into: "r12", a))\nblx r12\nadd sp, sp, #24\n"
            if addWordAtArg2 { text += "ldr r12, [r4]\nadds r0, r0, r12\nadc r1, r1, #0\n" }
            return text + "pop {r4, pc}"
        default:
            let m = mips(a)!
            // O32 frame: 16 bytes of home area, three 8-byte argument slots, s0, ra.
            var text = "addiu $sp, $sp, -48\nsw $ra, 44($sp)\nsw $s0, 40($sp)\nmove $s0, \(m.arg2.lo)\n"
            for (index, value) in [3, 4, 5].enumerated() {
                let slot = m.slot(16 + 8 * index)
                text += "li $t0, \(value)\nsw $t0, \(slot.lo)($sp)\nsw $zero, \(slot.hi)($sp)\n"
            }
            text += "\(loadAddress(function, into: "$t9", a))\njalr $t9\nnop\n"
            if addWordAtArg2 {
                let (lo, hi) = m.result
                text += "lw $t0, 0($s0)\naddu \(lo), \(lo), $t0\nsltu $t1, \(lo), $t0\naddu \(hi), \(hi), $t1\n"
            }
            return text + "lw $s0, 40($sp)\nlw $ra, 44($sp)\njr $ra\naddiu $sp, $sp, 48"
        }
    }

    /// arm64: keeps 5 in x9 (caller-saved) across a call and returns x9.
    static func keepAcrossCall(_ function: UInt64) -> String {
        """
        stp x29, x30, [sp, #-16]!
        mov x9, #5
        \(loadAddress(function, into: "x10", .arm64))
        blr x10
        mov x0, x9
        ldp x29, x30, [sp], #16
        ret
        """
    }

    /// arm64: a direct `bl` to `function` from an image at `image`
    /// (the `bl` is the second instruction); returns the call's result.
    static func directCall(_ function: UInt64, image: UInt64) -> String {
        let distance = Int64(bitPattern: function &- (image + 4))
        return "stp x29, x30, [sp, #-16]!\nbl . + \(distance)\nldp x29, x30, [sp], #16\nret"
    }
}
