/// Data-processing instructions (Arm ARM, chapter C4 "A64 Instruction Set
/// Encoding": "Data Processing -- Immediate" and "-- Register"). Aliases are built
/// from their base encodings: CMP is SUBS to the zero register, MOV is ORR
/// from it, NEG is SUB from it, LSL/LSR/ASR by an immediate are UBFM/SBFM.
extension Arm64Encoder {
    // MARK: Add and subtract, immediate (C6.2 "ADD (immediate)", "ADDS", "SUB", "SUBS")
    //   |sf|op|S|1 0 0 0 1 0|sh|   imm12   |  Rn  |  Rd  |

    /// `add rd, rn, #imm` — rd = rn + imm (rn and rd may be sp).
    @inline(__always)
    public func add(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: ArithmeticImmediate) {
        emit(0x1100_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `sub rd, rn, #imm` — rd = rn - imm (rn and rd may be sp).
    @inline(__always)
    public func sub(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: ArithmeticImmediate) {
        emit(0x5100_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `adds rd, rn, #imm` — rd = rn + imm, setting flags.
    @inline(__always)
    public func adds(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: ArithmeticImmediate) {
        emit(0x3100_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `subs rd, rn, #imm` — rd = rn - imm, setting flags.
    @inline(__always)
    public func subs(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: ArithmeticImmediate) {
        emit(0x7100_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `cmp rn, #imm` — flags of rn - imm (SUBS to the zero register).
    @inline(__always)
    public func cmp(_ s: Arm64Size, _ rn: Arm64Register, _ imm: ArithmeticImmediate) { subs(s, .zr, rn, imm) }

    /// `cmn rn, #imm` — flags of rn + imm (ADDS to the zero register).
    @inline(__always)
    public func cmn(_ s: Arm64Size, _ rn: Arm64Register, _ imm: ArithmeticImmediate) { adds(s, .zr, rn, imm) }

    /// `mov rd, sp` / `mov sp, rn` — the ADD #0 alias, the one move that may name sp.
    @inline(__always)
    public func movSP(_ rd: Arm64Register, _ rn: Arm64Register) { add(.x, rd, rn, ArithmeticImmediate(0)!) }

    // MARK: Add and subtract, shifted register (C6.2 "ADD (shifted register)", "SUB", "SUBS")
    //   |sf|op|S|0 1 0 1 1|shift|0|  Rm  | imm6 |  Rn  |  Rd  |   (shift LSL #0 here)

    /// `add rd, rn, rm` — rd = rn + rm.
    @inline(__always)
    public func add(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x0b00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `sub rd, rn, rm` — rd = rn - rm.
    @inline(__always)
    public func sub(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x4b00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `subs rd, rn, rm` — rd = rn - rm, setting flags.
    @inline(__always)
    public func subs(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x6b00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `cmp rn, rm` — flags of rn - rm.
    @inline(__always)
    public func cmp(_ s: Arm64Size, _ rn: Arm64Register, _ rm: Arm64Register) { subs(s, .zr, rn, rm) }

    /// `neg rd, rm` — rd = -rm (SUB from the zero register).
    @inline(__always)
    public func neg(_ s: Arm64Size, _ rd: Arm64Register, _ rm: Arm64Register) { sub(s, rd, .zr, rm) }

    // MARK: Logical, shifted register (C6.2 "AND (shifted register)", "ORR", "EOR", "ANDS", "ORN")
    //   |sf| opc |0 1 0 1 0|shift|N|  Rm  | imm6 |  Rn  |  Rd  |

    /// `and rd, rn, rm` — rd = rn & rm.
    @inline(__always)
    public func and(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x0a00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `orr rd, rn, rm` — rd = rn | rm.
    @inline(__always)
    public func orr(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x2a00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `eor rd, rn, rm` — rd = rn ^ rm.
    @inline(__always)
    public func eor(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x4a00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `orn rd, rn, rm` — rd = rn | ~rm.
    @inline(__always)
    public func orn(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x2a20_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `ands rd, rn, rm` — rd = rn & rm, setting flags.
    @inline(__always)
    public func ands(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x6a00_0000 | Self.sf(s) | Self.rm(rm) | Self.rn(rn) | Self.rd(rd))
    }

    /// `tst rn, rm` — flags of rn & rm (ANDS to the zero register).
    @inline(__always)
    public func tst(_ s: Arm64Size, _ rn: Arm64Register, _ rm: Arm64Register) { ands(s, .zr, rn, rm) }

    /// `mov rd, rm` — rd = rm (ORR from the zero register); the W form zero-extends.
    @inline(__always)
    public func mov(_ s: Arm64Size, _ rd: Arm64Register, _ rm: Arm64Register) { orr(s, rd, .zr, rm) }

    /// `mvn rd, rm` — rd = ~rm (ORN from the zero register).
    @inline(__always)
    public func mvn(_ s: Arm64Size, _ rd: Arm64Register, _ rm: Arm64Register) { orn(s, rd, .zr, rm) }

    // MARK: Logical, immediate (C6.2 "AND (immediate)", "ORR", "EOR", "ANDS")
    //   |sf| opc |1 0 0 1 0 0|N| immr | imms |  Rn  |  Rd  |

    /// `and rd, rn, #bitmask` — rd = rn & imm.
    @inline(__always)
    public func and(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: LogicalImmediate) {
        emit(0x1200_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `orr rd, rn, #bitmask` — rd = rn | imm.
    @inline(__always)
    public func orr(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: LogicalImmediate) {
        emit(0x3200_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `eor rd, rn, #bitmask` — rd = rn ^ imm.
    @inline(__always)
    public func eor(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: LogicalImmediate) {
        emit(0x5200_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `ands rd, rn, #bitmask` — rd = rn & imm, setting flags.
    @inline(__always)
    public func ands(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ imm: LogicalImmediate) {
        emit(0x7200_0000 | Self.sf(s) | imm.field | Self.rn(rn) | Self.rd(rd))
    }

    /// `tst rn, #bitmask` — flags of rn & imm.
    @inline(__always)
    public func tst(_ s: Arm64Size, _ rn: Arm64Register, _ imm: LogicalImmediate) { ands(s, .zr, rn, imm) }

    // MARK: Move wide (C6.2 "MOVZ", "MOVN", "MOVK")
    //   |sf| opc |1 0 0 1 0 1| hw |        imm16        |  Rd  |

    /// `movz rd, #imm16, lsl #shift` — rd = imm16 << shift.
    @inline(__always)
    public func movz(_ s: Arm64Size, _ rd: Arm64Register, _ imm16: UInt16, _ shift: MoveWideShift = .lsl0) {
        moveWide(0x5280_0000, s, rd, imm16, shift)
    }

    /// `movn rd, #imm16, lsl #shift` — rd = ~(imm16 << shift).
    @inline(__always)
    public func movn(_ s: Arm64Size, _ rd: Arm64Register, _ imm16: UInt16, _ shift: MoveWideShift = .lsl0) {
        moveWide(0x1280_0000, s, rd, imm16, shift)
    }

    /// `movk rd, #imm16, lsl #shift` — replaces one half-word of rd.
    @inline(__always)
    public func movk(_ s: Arm64Size, _ rd: Arm64Register, _ imm16: UInt16, _ shift: MoveWideShift = .lsl0) {
        moveWide(0x7280_0000, s, rd, imm16, shift)
    }

    @inline(__always)
    private func moveWide(_ base: UInt32, _ s: Arm64Size, _ rd: Arm64Register, _ imm16: UInt16, _ shift: MoveWideShift) {
        guard s == .x || shift.rawValue < 2 else { return poison("a W move-wide shifts by 0 or 16, not \(shift.amount)") }
        emit(base | Self.sf(s) | shift.rawValue << 21 | UInt32(imm16) << 5 | Self.rd(rd))
    }

    // MARK: Multiply and divide (C6.2 "MADD" (MUL), "MSUB", "UDIV", "SDIV")
    //   MADD/MSUB: |sf|0 0|1 1 0 1 1|0 0 0|  Rm  |o0|  Ra  |  Rn  |  Rd  |
    //   DIV:       |sf|0|0|1 1 0 1 0 1 1 0|  Rm  |0 0 0 0 1|o1|  Rn  |  Rd  |

    /// `madd rd, rn, rm, ra` — rd = ra + rn * rm.
    @inline(__always)
    public func madd(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register, _ ra: Arm64Register) {
        emit(0x1b00_0000 | Self.sf(s) | Self.rm(rm) | Self.ra(ra) | Self.rn(rn) | Self.rd(rd))
    }

    /// `msub rd, rn, rm, ra` — rd = ra - rn * rm.
    @inline(__always)
    public func msub(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register, _ ra: Arm64Register) {
        emit(0x1b00_8000 | Self.sf(s) | Self.rm(rm) | Self.ra(ra) | Self.rn(rn) | Self.rd(rd))
    }

    /// `mul rd, rn, rm` — rd = rn * rm (MADD with the zero register).
    @inline(__always)
    public func mul(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) { madd(s, rd, rn, rm, .zr) }

    /// `udiv rd, rn, rm` — rd = rn / rm unsigned; x / 0 = 0, no trap.
    @inline(__always)
    public func udiv(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        dataProcessing2(0b000010, s, rd, rn, rm)
    }

    /// `sdiv rd, rn, rm` — rd = rn / rm signed, rounding to zero; x / 0 = 0, MIN / -1 = MIN, no trap.
    @inline(__always)
    public func sdiv(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        dataProcessing2(0b000011, s, rd, rn, rm)
    }

    // MARK: Shifts (C6.2 "LSLV", "LSRV", "ASRV": the count is taken modulo the size)

    /// `lsl rd, rn, rm` — rd = rn << (rm mod size).
    @inline(__always)
    public func lslv(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        dataProcessing2(0b001000, s, rd, rn, rm)
    }

    /// `lsr rd, rn, rm` — rd = rn >> (rm mod size), logical.
    @inline(__always)
    public func lsrv(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        dataProcessing2(0b001001, s, rd, rn, rm)
    }

    /// `asr rd, rn, rm` — rd = rn >> (rm mod size), arithmetic.
    @inline(__always)
    public func asrv(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        dataProcessing2(0b001010, s, rd, rn, rm)
    }

    @inline(__always)
    private func dataProcessing2(_ opcode: UInt32, _ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ rm: Arm64Register) {
        emit(0x1ac0_0000 | Self.sf(s) | Self.rm(rm) | opcode << 10 | Self.rn(rn) | Self.rd(rd))
    }

    // MARK: Bitfield moves (C6.2 "SBFM", "UBFM") and their aliases
    //   |sf| opc |1 0 0 1 1 0|N| immr | imms |  Rn  |  Rd  |   (N = sf)

    /// `sbfm rd, rn, #immr, #imms` — signed bitfield move.
    @inline(__always)
    public func sbfm(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, immr: UInt32, imms: UInt32) {
        bitfield(0x1300_0000, s, rd, rn, immr: immr, imms: imms)
    }

    /// `ubfm rd, rn, #immr, #imms` — unsigned bitfield move.
    @inline(__always)
    public func ubfm(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, immr: UInt32, imms: UInt32) {
        bitfield(0x5300_0000, s, rd, rn, immr: immr, imms: imms)
    }

    @inline(__always)
    private func bitfield(_ base: UInt32, _ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, immr: UInt32, imms: UInt32) {
        let limit = UInt32(s.bits)
        guard immr < limit, imms < limit else { return poison("bitfield position \(immr)/\(imms) outside a \(limit)-bit register") }
        emit(base | Self.sf(s) | s.rawValue << 22 | immr << 16 | imms << 10 | Self.rn(rn) | Self.rd(rd))
    }

    /// `lsl rd, rn, #n` — rd = rn << n (UBFM rd, rn, #(-n mod size), #(size - 1 - n)).
    @inline(__always)
    public func lsl(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ n: UInt32) {
        let size = UInt32(s.bits)
        guard n < size else { return poison("shift by \(n) in a \(size)-bit register") }
        ubfm(s, rd, rn, immr: (size - n) % size, imms: size - 1 - n)
    }

    /// `lsr rd, rn, #n` — rd = rn >> n, logical (UBFM rd, rn, #n, #(size - 1)).
    @inline(__always)
    public func lsr(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ n: UInt32) {
        ubfm(s, rd, rn, immr: n, imms: UInt32(s.bits) - 1)
    }

    /// `asr rd, rn, #n` — rd = rn >> n, arithmetic (SBFM rd, rn, #n, #(size - 1)).
    @inline(__always)
    public func asr(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, _ n: UInt32) {
        sbfm(s, rd, rn, immr: n, imms: UInt32(s.bits) - 1)
    }

    /// `sxtb/sxth/sxtw rd, wn` — rd = the low `bits` of rn, sign-extended (SBFM rd, rn, #0, #(bits - 1)).
    @inline(__always)
    public func signExtend(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register, bits: UInt32) {
        sbfm(s, rd, rn, immr: 0, imms: bits - 1)
    }

    /// `uxtb/uxth wd, wn` — wd = the low `bits` of wn, zero-extended (UBFM wd, wn, #0, #(bits - 1)).
    @inline(__always)
    public func zeroExtend(_ rd: Arm64Register, _ rn: Arm64Register, bits: UInt32) {
        ubfm(.w, rd, rn, immr: 0, imms: bits - 1)
    }

    // MARK: Byte reversal (C6.2 "REV16", "REV")
    //   |sf|1|0|1 1 0 1 0 1 1 0|0 0 0 0 0|0 0 0 0|opc|  Rn  |  Rd  |

    /// `rev16 rd, rn` — swaps the bytes of each half-word.
    @inline(__always)
    public func rev16(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register) { dataProcessing1(0b01, s, rd, rn) }

    /// `rev rd, rn` — reverses the bytes of the whole register.
    @inline(__always)
    public func rev(_ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register) {
        dataProcessing1(s == .x ? 0b11 : 0b10, s, rd, rn)
    }

    @inline(__always)
    private func dataProcessing1(_ opc: UInt32, _ s: Arm64Size, _ rd: Arm64Register, _ rn: Arm64Register) {
        emit(0x5ac0_0000 | Self.sf(s) | opc << 10 | Self.rn(rn) | Self.rd(rd))
    }
}
