extension X86Encoder {
    // MARK: Loads and stores (SDM vol. 2A "MOV"; vol. 2B "MOVZX", "MOVSX/MOVSXD")

    /// `movzx dst32, byte/word [m]` or `mov dst, dword/qword [m]` — zero-extending load.
    @inline(__always)
    public func load(_ size: OperandSize, _ dst: GPR, _ source: Memory) {
        switch size {
        case .byte: rm(.dword, 0x0fb6, reg: dst, source)
        case .word: rm(.dword, 0x0fb7, reg: dst, source)
        case .dword: rm(.dword, 0x8b, reg: dst, source)
        case .qword: rm(.qword, 0x8b, reg: dst, source)
        }
    }

    /// `movzx dst32, byte/word [base + index*scale + disp]` or `mov dst,
    /// dword/qword [...]`: the zero-extending load with a SIB byte (SDM vol.
    /// 2A, 2.1.5, table 2-3); rsp cannot be an index.
    public func loadIndexed(_ size: OperandSize, _ dst: GPR, base: GPR, index: GPR, scale: UInt8, disp: Int32) {
        precondition(index != .rsp, "load: rsp cannot be an index")
        let ss: UInt8 = switch scale {
        case 1: 0
        case 2: 1
        case 4: 2
        default: 3
        }
        let rex: UInt8 = (size == .qword ? 0x08 : 0) | dst.high << 2 | index.high << 1 | base.high
        if rex != 0 { code.byte(0x40 | rex) }
        switch size {
        case .byte: opcode(0x0fb6)
        case .word: opcode(0x0fb7)
        default: opcode(0x8b)
        }
        let mod: UInt8 = disp == 0 && base.low != 5 ? 0 : Self.isInt8(Int64(disp)) ? 1 : 2
        code.bytes(mod << 6 | dst.low << 3 | 4, ss << 6 | index.low << 3 | base.low)
        if mod == 1 { code.byte(UInt8(bitPattern: Int8(disp))) } else if mod == 2 { code.uint32(UInt32(bitPattern: disp)) }
    }

    /// `movsx dst64, byte/word [m]` or `movsxd dst64, dword [m]` — sign-extending load.
    @inline(__always)
    public func loadSignExtend(_ size: OperandSize, _ dst: GPR, _ source: Memory) {
        switch size {
        case .byte: rm(.qword, 0x0fbe, reg: dst, source)
        case .word: rm(.qword, 0x0fbf, reg: dst, source)
        default: rm(.qword, 0x63, reg: dst, source)
        }
    }

    /// `mov [m], src` of 1, 2, 4 or 8 bytes (88 /r, 66 89 /r, 89 /r, REX.W 89 /r).
    @inline(__always)
    public func store(_ size: OperandSize, _ target: Memory, _ src: GPR) {
        rm(size, size == .byte ? 0x88 : 0x89, reg: src, target)
    }

    /// `mov [m], imm` (C6 /0 ib, 66 C7 /0 iw, C7 /0 id, REX.W C7 /0 id sign-extended).
    @inline(__always)
    public func store(_ size: OperandSize, _ target: Memory, imm: Int32) {
        m(size, size == .byte ? 0xc6 : 0xc7, digit: 0, target)
        immediate(imm, bytes: min(size.rawValue, 4))
    }

    /// `lea dst, [m]` — dst = base + disp (8D /r).
    @inline(__always)
    public func lea(_ dst: GPR, _ source: Memory) {
        rm(.qword, 0x8d, reg: dst, source)
    }

    // MARK: Atomics (SDM vol. 2A "LOCK", "CMPXCHG", vol. 2B "XADD", "XCHG"; vol. 3A 9.1.2.2)

    /// `lock add/or/and/xor [m], src` — atomic read-modify-write.
    @inline(__always)
    public func lock(_ kind: ArithmeticKind, _ size: OperandSize, _ target: Memory, _ src: GPR) {
        rm(size, UInt16(kind.rawValue << 3 | 1), reg: src, target, lock: true)
    }

    /// `lock xadd [m], src` — atomically [m] += src, src = old [m].
    @inline(__always)
    public func lockXadd(_ size: OperandSize, _ target: Memory, _ src: GPR) {
        rm(size, 0x0fc1, reg: src, target, lock: true)
    }

    /// `xchg [m], src` — atomic swap (locked implicitly).
    @inline(__always)
    public func xchg(_ size: OperandSize, _ target: Memory, _ src: GPR) {
        rm(size, 0x87, reg: src, target)
    }

    /// `lock cmpxchg [m], src` — if [m] == rax then [m] = src else rax = [m]; ZF = equal.
    @inline(__always)
    public func lockCmpxchg(_ size: OperandSize, _ target: Memory, _ src: GPR) {
        rm(size, 0x0fb1, reg: src, target, lock: true)
    }
}
