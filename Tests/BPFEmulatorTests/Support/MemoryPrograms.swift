import BPFEmulator

/// Programs that reach memory through a helper: a map value a helper
/// returns, and a pointer into the program's own stack passed to a helper.
extension TestPrograms {
    /// Calls `lookup()`, increments the 32-bit word at the pointer it
    /// returns, and returns the word's old value.
    static func lookupAndIncrement(_ lookup: UInt64, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64":
            return """
                stp x29, x30, [sp, #-16]!
                \(loadAddress(lookup, into: "x9", a))
                blr x9
                ldr w9, [x0]
                add w10, w9, #1
                str w10, [x0]
                mov w0, w9
                ldp x29, x30, [sp], #16
                ret
                """
        case "riscv64":
            return """
                addi sp, sp, -16
                sd ra, 8(sp)
                \(loadAddress(lookup, into: "t0", a))
                jalr t0
                lwu t1, 0(a0)
                addi t2, t1, 1
                sw t2, 0(a0)
                mv a0, t1
                ld ra, 8(sp)
                addi sp, sp, 16
                ret
                """
        case "arm32":
            return """
                push {r4, lr}
                \(loadAddress(lookup, into: "r12", a))
                blx r12
                ldr r2, [r0]
                add r3, r2, #1
                str r3, [r0]
                mov r0, r2
                mov r1, #0
                pop {r4, pc}
                """
        default:
            let (lo, hi) = mips(a)!.result
            return """
                addiu $sp, $sp, -24
                sw $ra, 20($sp)
                \(loadAddress(lookup, into: "$t9", a))
                jalr $t9
                nop
                lw $t0, 0(\(lo))
                addiu $t1, $t0, 1
                sw $t1, 0(\(lo))
                move \(lo), $t0
                move \(hi), $zero
                lw $ra, 20($sp)
                jr $ra
                addiu $sp, $sp, 24
                """
        }
    }

    /// Stores the word 0x55 on its stack and calls `function(0, &word)`;
    /// returns the call's result.
    static func passStackPointer(_ function: UInt64, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64":
            return """
                stp x29, x30, [sp, #-32]!
                mov w9, #0x55
                str w9, [sp, #16]
                add x1, sp, #16
                \(loadAddress(function, into: "x9", a))
                blr x9
                ldp x29, x30, [sp], #32
                ret
                """
        case "riscv64":
            return """
                addi sp, sp, -16
                sd ra, 8(sp)
                li t0, 0x55
                sw t0, 0(sp)
                mv a1, sp
                \(loadAddress(function, into: "t0", a))
                jalr t0
                ld ra, 8(sp)
                addi sp, sp, 16
                ret
                """
        case "arm32":
            return """
                push {r4, lr}
                sub sp, sp, #32
                mov r12, #0x55
                str r12, [sp, #24]
                add r2, sp, #24
                mov r3, #0
                \(loadAddress(function, into: "r12", a))
                blx r12
                add sp, sp, #32
                pop {r4, pc}
                """
        default:
            let m = mips(a)!
            return """
                addiu $sp, $sp, -48
                sw $ra, 44($sp)
                li $t0, 0x55
                sw $t0, 40($sp)
                addiu \(m.arg2.lo), $sp, 40
                move \(m.arg2.hi), $zero
                \(loadAddress(function, into: "$t9", a))
                jalr $t9
                nop
                lw $ra, 44($sp)
                jr $ra
                addiu $sp, $sp, 48
                """
        }
    }

    /// Jumps to `address` through a register (the jump is the last instruction).
    static func jump(to address: UInt64, _ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "\(loadAddress(address, into: "x9", a))\nbr x9"
        case "riscv64": "\(loadAddress(address, into: "t0", a))\njr t0"
        case "arm32": "\(loadAddress(address, into: "r12", a))\nbx r12"
        default: "\(loadAddress(address, into: "$t0", a))\njr $t0\nnop"
        }
    }

    /// Moves the stack pointer 1 MiB down (past any stack) and stores there.
    static func overflowStack(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "sub sp, sp, #256, lsl #12\nstr x0, [sp]\nret"
        case "riscv64": "lui t0, 256\nsub sp, sp, t0\nsd a0, 0(sp)\nret"
        case "arm32": "sub sp, sp, #1048576\nstr r0, [sp]\nbx lr"
        default: "lui $t0, 16\nsubu $sp, $sp, $t0\nsw $a0, 0($sp)\njr $ra\nnop"
        }
    }

    /// Changes a callee-saved register and returns.
    static func clobberCalleeSaved(_ a: EmulatedArchitecture) -> (source: String, register: String) {
        switch a.name {
        case "arm64": ("mov x19, #1\nret", "x19")
        case "riscv64": ("li s1, 1\nret", "s1")
        case "arm32": ("mov r4, #1\nbx lr", "r4")
        default: ("li $s0, 1\njr $ra\nnop", "s0")
        }
    }
}
