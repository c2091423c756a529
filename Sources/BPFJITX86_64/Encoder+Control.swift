import BPFJIT

extension X86Encoder {
    // MARK: Branches (SDM vol. 2A "Jcc", "JMP": rel8 and rel32 forms)

    /// `jcc label` — rel8 (70+cc cb) when the estimate reaches, rel32 (0F 80+cc cd) otherwise.
    @inline(__always)
    public func j(_ condition: Condition, _ label: Label) {
        let choice = asm.chooseShort(to: label, shortLength: 2, short: .rel8)
        if choice.useShort {
            code.bytes(0x70 | condition.rawValue, 0)
            asm.addFixup(label, kind: .rel8, field: code.count - 1, anchor: code.count, site: choice.site)
        } else {
            code.bytes(0x0f, 0x80 | condition.rawValue)
            code.uint32(0)
            asm.addFixup(label, kind: .rel32, field: code.count - 4, anchor: code.count, site: choice.site)
        }
    }

    /// `jmp label` — EB cb or E9 cd.
    @inline(__always)
    public func jmp(_ label: Label) {
        let choice = asm.chooseShort(to: label, shortLength: 2, short: .rel8)
        if choice.useShort {
            code.bytes(0xeb, 0)
            asm.addFixup(label, kind: .rel8, field: code.count - 1, anchor: code.count, site: choice.site)
        } else {
            code.byte(0xe9)
            code.uint32(0)
            asm.addFixup(label, kind: .rel32, field: code.count - 4, anchor: code.count, site: choice.site)
        }
    }

    /// `jmp label` always in the rel32 form (E9 cd): a tail-call bypass,
    /// which is patched to a 5-byte no-op and back.
    @inline(__always)
    public func jmpRel32(_ label: Label) {
        code.byte(0xe9)
        code.uint32(0)
        asm.addFixup(label, kind: .rel32, field: code.count - 4, anchor: code.count)
    }

    /// `jmp reg` — FF /4.
    @inline(__always)
    public func jmp(_ target: GPR) { r(.dword, 0xff, digit: 4, rm: target) }

    // MARK: Calls and returns (SDM vol. 2A "CALL", vol. 2B "RET", "LEAVE")

    /// `call label` — E8 cd to code in this image.
    @inline(__always)
    public func call(_ label: Label) {
        code.byte(0xe8)
        code.uint32(0)
        asm.addFixup(label, kind: .rel32, field: code.count - 4, anchor: code.count)
    }

    /// `call target` — E8 cd to an absolute address; the caller has checked
    /// that it is within ±2 GiB of `here` (the image address of this byte).
    @inline(__always)
    public func call(absolute target: UInt, from here: UInt) {
        let displacement = Int64(bitPattern: UInt64(target)) &- Int64(bitPattern: UInt64(here + 5))
        if !Self.isInt32(displacement) { code.poison("call displacement \(displacement) exceeds rel32") }
        code.byte(0xe8)
        code.uint32(UInt32(truncatingIfNeeded: displacement))
    }

    /// `call reg` — FF /2.
    @inline(__always)
    public func call(_ target: GPR) { r(.dword, 0xff, digit: 2, rm: target) }

    /// `ret` — C3.
    @inline(__always)
    public func ret() { code.byte(0xc3) }

    /// `leave` — rsp = rbp; pop rbp (C9).
    @inline(__always)
    public func leave() { code.byte(0xc9) }

    /// `push reg` — 50+r.
    @inline(__always)
    public func push(_ register: GPR) {
        if register.high != 0 { code.byte(0x41) }
        code.byte(0x50 | register.low)
    }

    /// `pop reg` — 58+r.
    @inline(__always)
    public func pop(_ register: GPR) {
        if register.high != 0 { code.byte(0x41) }
        code.byte(0x58 | register.low)
    }

    /// `push imm8` — pushes a sign-extended byte (6A ib).
    @inline(__always)
    public func push(imm: Int8) { code.bytes(0x6a, UInt8(bitPattern: imm)) }

    /// `rep stosq` — store rax at [rdi], rdi += 8, rcx times (F3 REX.W AB;
    /// SDM vol. 2B "STOS", "REP"). The SysV ABI clears the direction flag at calls.
    @inline(__always)
    public func repStosq() { code.bytes(0xf3, 0x48, 0xab) }

    /// `int3` — CC, the trap that fills unused executable memory.
    @inline(__always)
    public func int3() { code.byte(0xcc) }

    /// The recommended multi-byte NOPs, 1 to 9 bytes (SDM vol. 2B "NOP", table 4-12).
    static let nops: [[UInt8]] = [
        [],
        [0x90],
        [0x66, 0x90],
        [0x0f, 0x1f, 0x00],
        [0x0f, 0x1f, 0x40, 0x00],
        [0x0f, 0x1f, 0x44, 0x00, 0x00],
        [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
        [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]

    /// Exactly `count` bytes of NOPs, in as few instructions as the table allows.
    public static func nop(_ count: Int, into code: CodeBuffer) {
        var left = count
        while left > 0 {
            let n = min(left, 9)
            for byte in nops[n] { code.byte(byte) }
            left -= n
        }
    }

    /// Exactly `count` bytes of NOPs, here.
    public func nop(_ count: Int) {
        var left = count
        while left > 0 {
            let n = min(left, 9)
            for byte in Self.nops[n] { code.byte(byte) }
            left -= n
        }
    }
}
