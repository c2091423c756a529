import BPFJIT

/// Branches, calls and system instructions (Arm ARM, chapter C4:
/// "Branches, Exception Generating and System instructions").
///
/// A branch to a label is emitted with its field zero and a fixup the
/// assembler fills once the pass has placed every label. Conditional
/// branches have a short form (B.cond, CBZ/CBNZ: imm19, ±1 MiB; TBZ/TBNZ:
/// imm14, ±32 KiB) and a long one, the inverted branch over an unconditional
/// B (imm26, ±128 MiB):
///
/// ```
///     b.ne  label           ; short            b.eq  .+8     ; long
///                                              b     label
/// ```
///
/// The assembler decides per site (`chooseShort`): short while the distance
/// is unknown or fits, long from the pass after a short form failed to
/// reach. Nothing is ever truncated: a B that does not reach poisons the pass.
extension Arm64Encoder {
    // MARK: Unconditional (C6.2 "B", "BL": |op|0 0 1 0 1| imm26 |)

    /// `b label` — jumps to a label of this image.
    @inline(__always)
    public func b(_ label: Label) {
        let here = code.count
        emit(0x1400_0000)
        asm.addFixup(label, kind: .imm26, field: here, anchor: here)
    }

    /// `bl label` — calls a function of this image (x30 = return address).
    @inline(__always)
    public func bl(_ label: Label) {
        let here = code.count
        emit(0x9400_0000)
        asm.addFixup(label, kind: .imm26, field: here, anchor: here)
    }

    /// `bl target` — calls an absolute address from the image address `here`
    /// of this instruction; the caller has checked the ±128 MiB range.
    @inline(__always)
    public func bl(absolute target: UInt64, from here: UInt64) {
        let displacement = Int(Int64(bitPattern: target &- here))
        guard Arm64Branch.imm26.canEncode(displacement) else {
            return poison("call displacement \(displacement) exceeds ±128 MiB")
        }
        emit(Arm64Branch.merge(0x9400_0000, kind: .imm26, displacement: displacement))
    }

    /// Whether a `bl` at `here` reaches `target`.
    @inline(__always)
    public static func reaches(_ target: UInt64, from here: UInt64) -> Bool {
        let displacement = Int64(bitPattern: target &- here)
        return displacement >= -(1 << 27) && displacement < (1 << 27) && displacement & 3 == 0
    }

    // MARK: Conditional (C6.2 "B.cond": |0 1 0 1 0 1 0 0| imm19 |0| cond |)

    /// `b.cond label` — short when it reaches, else `b.!cond .+8; b label`.
    @inline(__always)
    public func b(_ condition: Arm64Condition, _ label: Label) {
        // Length 0: AArch64 displacements count from the branch itself.
        let choice = asm.chooseShort(to: label, shortLength: 0, short: .imm19)
        let here = code.count
        if choice.useShort {
            emit(0x5400_0000 | condition.rawValue)
            asm.addFixup(label, kind: .imm19, field: here, anchor: here, site: choice.site)
        } else {
            emit(0x5400_0000 | 2 << 5 | condition.inverted.rawValue)    /* b.!cond .+8 */
            longBranch(label, site: choice.site)
        }
    }

    /// `b.cond .+offset` — a branch over the next few instructions of a sequence (no label).
    @inline(__always)
    public func b(_ condition: Arm64Condition, skip offset: Int) {
        guard Arm64Branch.imm19.canEncode(offset) else { return poison("conditional skip of \(offset) bytes") }
        emit(Arm64Branch.merge(0x5400_0000 | condition.rawValue, kind: .imm19, displacement: offset))
    }

    // MARK: Compare and branch (C6.2 "CBZ", "CBNZ": |sf|0 1 1 0 1 0|op| imm19 | Rt |)

    /// `cbz rt, label` — branches when rt is zero; long form `cbnz rt, .+8; b label`.
    @inline(__always)
    public func cbz(_ s: Arm64Size, _ rt: Arm64Register, _ label: Label) { compareAndBranch(0, s, rt, label) }

    /// `cbnz rt, label` — branches when rt is not zero; long form `cbz rt, .+8; b label`.
    @inline(__always)
    public func cbnz(_ s: Arm64Size, _ rt: Arm64Register, _ label: Label) { compareAndBranch(1, s, rt, label) }

    @inline(__always)
    private func compareAndBranch(_ nonzero: UInt32, _ s: Arm64Size, _ rt: Arm64Register, _ label: Label) {
        let choice = asm.chooseShort(to: label, shortLength: 0, short: .imm19)
        let here = code.count
        if choice.useShort {
            emit(0x3400_0000 | Self.sf(s) | nonzero << 24 | Self.rd(rt))
            asm.addFixup(label, kind: .imm19, field: here, anchor: here, site: choice.site)
        } else {
            emit(0x3400_0000 | Self.sf(s) | (nonzero ^ 1) << 24 | 2 << 5 | Self.rd(rt))   /* cb(n)z rt, .+8 */
            longBranch(label, site: choice.site)
        }
    }

    // MARK: Test bit and branch (C6.2 "TBZ", "TBNZ": |b5|0 1 1 0 1 1|op| b40 | imm14 | Rt |)

    /// `tbz rt, #bit, label` — branches when the bit is clear; long form `tbnz rt, #bit, .+8; b label`.
    @inline(__always)
    public func tbz(_ rt: Arm64Register, bit: UInt32, _ label: Label) { testAndBranch(0, rt, bit, label) }

    /// `tbnz rt, #bit, label` — branches when the bit is set; long form `tbz rt, #bit, .+8; b label`.
    @inline(__always)
    public func tbnz(_ rt: Arm64Register, bit: UInt32, _ label: Label) { testAndBranch(1, rt, bit, label) }

    @inline(__always)
    private func testAndBranch(_ nonzero: UInt32, _ rt: Arm64Register, _ bit: UInt32, _ label: Label) {
        guard bit < 64 else { return poison("test of bit \(bit)") }
        let fields = (bit >> 5) << 31 | (bit & 31) << 19 | Self.rd(rt)
        let choice = asm.chooseShort(to: label, shortLength: 0, short: .imm14)
        let here = code.count
        if choice.useShort {
            emit(0x3600_0000 | nonzero << 24 | fields)
            asm.addFixup(label, kind: .imm14, field: here, anchor: here, site: choice.site)
        } else {
            emit(0x3600_0000 | (nonzero ^ 1) << 24 | 2 << 5 | fields)   /* tb(n)z rt, #bit, .+8 */
            longBranch(label, site: choice.site)
        }
    }

    /// The `b label` of a long form; its site is already long, so a miss poisons.
    @inline(__always)
    private func longBranch(_ label: Label, site: Int32) {
        let here = code.count
        emit(0x1400_0000)
        asm.addFixup(label, kind: .imm26, field: here, anchor: here, site: site)
    }

    // MARK: Register branches (C6.2 "BR", "BLR", "RET": |1 1 0 1 0 1 1|0|0|op|1 1 1 1 1|0 0 0 0 0 0| Rn |0 0 0 0 0|)

    /// `br rn` — jumps to the address in rn.
    @inline(__always)
    public func br(_ rn: Arm64Register) { emit(0xd61f_0000 | Self.rn(rn)) }

    /// `blr rn` — calls the address in rn (x30 = return address).
    @inline(__always)
    public func blr(_ rn: Arm64Register) { emit(0xd63f_0000 | Self.rn(rn)) }

    /// `ret` — returns to x30.
    @inline(__always)
    public func ret() { emit(0xd65f_03c0) }

    // MARK: PC-relative address (C6.2 "ADR": |0|immlo|1 0 0 0 0| immhi | Rd |)

    /// `adr rd, label` — rd = the address of a label of this image (±1 MiB).
    @inline(__always)
    public func adr(_ rd: Arm64Register, _ label: Label) {
        let here = code.count
        emit(0x1000_0000 | Self.rd(rd))
        asm.addFixup(label, kind: .adr, field: here, anchor: here)
    }

    // MARK: System and exceptions (C6.2 "NOP", "BRK")

    /// `nop`.
    @inline(__always)
    public func nop() { emit(0xd503_201f) }

    /// `brk #imm16` — the breakpoint trap that fills unused executable memory.
    @inline(__always)
    public func brk(_ imm16: UInt16) { emit(0xd420_0000 | UInt32(imm16) << 5) }
}
