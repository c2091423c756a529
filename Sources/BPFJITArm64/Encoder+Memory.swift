import BPFISA

/// Loads, stores, pairs, exclusives and the LSE atomics (Arm ARM, chapter C4:
/// "Loads and Stores"). Sizes are BPF's access sizes; the `size` field is
/// their log2 (bits 31–30).
extension Arm64Encoder {
    /// How a load extends its value into the register: `opc` of the
    /// single-register forms (bits 23–22).
    public enum LoadKind: UInt32, Sendable {
        /// Zero-extended (LDRB/LDRH/LDR; a W destination for 1–4 bytes).
        case zeroExtend = 0b01
        /// Sign-extended to 64 bits (LDRSB/LDRSH/LDRSW with an X destination).
        case signExtend = 0b10
    }

    @inline(__always)
    static func sizeField(_ size: AccessSize) -> UInt32 {
        switch size {
        case .byte: 0
        case .half: 1
        case .word: 2
        case .double: 3
        }
    }

    // MARK: Single register, unsigned scaled offset (C6.2 "LDR (immediate)", "STR (immediate)")
    //   |size|1 1 1|0|0 1|opc|        imm12        |  Rn  |  Rt  |   address = Rn + imm12 × size

    /// `ldr rt, [rn, #offset]` — offset a multiple of the size, 0 to 4095 × size.
    @inline(__always)
    public func ldr(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, offset: Int = 0, _ kind: LoadKind = .zeroExtend) {
        scaled(kind.rawValue, size, rt, rn, offset)
    }

    /// `str rt, [rn, #offset]` — offset a multiple of the size, 0 to 4095 × size.
    @inline(__always)
    public func str(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, offset: Int = 0) {
        scaled(0b00, size, rt, rn, offset)
    }

    /// Whether `offset` fits the unsigned scaled form for `size`.
    @inline(__always)
    public static func fitsScaled(_ offset: Int, _ size: AccessSize) -> Bool {
        let bytes = Int(size.rawValue)
        return offset >= 0 && offset % bytes == 0 && offset / bytes < 4096
    }

    @inline(__always)
    private func scaled(_ opc: UInt32, _ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, _ offset: Int) {
        guard Self.fitsScaled(offset, size) else { return poison("offset \(offset) does not fit a scaled \(size.rawValue)-byte access") }
        let imm12 = UInt32(offset / Int(size.rawValue))
        emit(Self.sizeField(size) << 30 | 0x3900_0000 | opc << 22 | imm12 << 10 | Self.rn(rn) | Self.rd(rt))
    }

    // MARK: Single register, unscaled signed offset (C6.2 "LDUR", "STUR", "LDURSB"...)
    //   |size|1 1 1|0|0 0|opc|0|     imm9     |0 0|  Rn  |  Rt  |   address = Rn + imm9

    /// `ldur rt, [rn, #offset]` — any offset from -256 to 255.
    @inline(__always)
    public func ldur(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, offset: Int, _ kind: LoadKind = .zeroExtend) {
        unscaled(0x3800_0000, kind.rawValue, size, rt, rn, offset)
    }

    /// `stur rt, [rn, #offset]` — any offset from -256 to 255.
    @inline(__always)
    public func stur(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, offset: Int) {
        unscaled(0x3800_0000, 0b00, size, rt, rn, offset)
    }

    /// `ldr rt, [rn], #offset` — load, then rn += offset (post-index).
    @inline(__always)
    public func ldrPostIndex(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, offset: Int) {
        unscaled(0x3800_0400, 0b01, size, rt, rn, offset)
    }

    /// Whether `offset` fits a 9-bit signed immediate.
    @inline(__always)
    public static func fitsUnscaled(_ offset: Int) -> Bool { offset >= -256 && offset <= 255 }

    @inline(__always)
    private func unscaled(_ base: UInt32, _ opc: UInt32, _ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, _ offset: Int) {
        guard Self.fitsUnscaled(offset) else { return poison("offset \(offset) does not fit a 9-bit signed immediate") }
        let imm9 = UInt32(bitPattern: Int32(offset)) & 0x1ff
        emit(Self.sizeField(size) << 30 | base | opc << 22 | imm9 << 12 | Self.rn(rn) | Self.rd(rt))
    }

    // MARK: Single register, register offset (C6.2 "LDR (register)", "STR (register)")
    //   |size|1 1 1|0|0 0|opc|1|  Rm  |0 1 1|0|1 0|  Rn  |  Rt  |   address = Rn + Rm (LSL #0)

    /// `ldr rt, [rn, rm]` — address rn + rm.
    @inline(__always)
    public func ldr(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, index rm: Arm64Register, _ kind: LoadKind = .zeroExtend) {
        emit(Self.sizeField(size) << 30 | 0x3820_6800 | kind.rawValue << 22 | Self.rm(rm) | Self.rn(rn) | Self.rd(rt))
    }

    /// `str rt, [rn, rm]` — address rn + rm.
    @inline(__always)
    public func str(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, index rm: Arm64Register) {
        emit(Self.sizeField(size) << 30 | 0x3820_6800 | Self.rm(rm) | Self.rn(rn) | Self.rd(rt))
    }

    // MARK: Register pairs, 64-bit (C6.2 "STP", "LDP")
    //   |1 0|1 0 1|0|0 1 1|L|   imm7   |  Rt2  |  Rn  |  Rt  |   signed offset (×8); 001: post-index, 011: pre-index

    /// How a pair instruction uses its offset.
    public enum PairIndexing: UInt32, Sendable {
        /// `[rn, #offset]`: rn unchanged.
        case offset = 0b010
        /// `[rn, #offset]!`: rn += offset, then the access.
        case preIndex = 0b011
        /// `[rn], #offset`: the access, then rn += offset.
        case postIndex = 0b001
    }

    /// `stp rt, rt2, [rn, #offset]` — stores two X registers (offset a multiple of 8, -512 to 504).
    @inline(__always)
    public func stp(_ rt: Arm64Register, _ rt2: Arm64Register, _ rn: Arm64Register, offset: Int, _ indexing: PairIndexing = .offset) {
        pair(0, rt, rt2, rn, offset, indexing)
    }

    /// `ldp rt, rt2, [rn, #offset]` — loads two X registers.
    @inline(__always)
    public func ldp(_ rt: Arm64Register, _ rt2: Arm64Register, _ rn: Arm64Register, offset: Int, _ indexing: PairIndexing = .offset) {
        pair(1, rt, rt2, rn, offset, indexing)
    }

    @inline(__always)
    private func pair(_ load: UInt32, _ rt: Arm64Register, _ rt2: Arm64Register, _ rn: Arm64Register, _ offset: Int,
                      _ indexing: PairIndexing) {
        guard offset % 8 == 0, offset >= -512, offset <= 504 else { return poison("pair offset \(offset) is no multiple of 8 in -512...504") }
        let imm7 = UInt32(bitPattern: Int32(offset / 8)) & 0x7f
        emit(0xa800_0000 | indexing.rawValue << 23 | load << 22 | imm7 << 15 | Self.ra(rt2) | Self.rn(rn) | Self.rd(rt))
    }

    // MARK: Exclusives (C6.2 "LDXR", "LDAXR", "STXR", "STLXR"), 4 or 8 bytes
    //   |size|0 0 1 0 0 0|0|L|0|  Rs  |o0|1 1 1 1 1|  Rn  |  Rt  |

    /// `ldxr rt, [rn]` (`ldaxr` with `acquire`) — loads and opens an exclusive monitor.
    @inline(__always)
    public func ldxr(_ size: AccessSize, _ rt: Arm64Register, _ rn: Arm64Register, acquire: Bool = false) {
        guard Self.isWordOrDouble(size) else { return poison("exclusive load of \(size.rawValue) bytes") }
        // Rs is 0b11111 in the load forms.
        emit(Self.sizeField(size) << 30 | 0x085f_7c00 | (acquire ? 0x8000 : 0) | Self.rn(rn) | Self.rd(rt))
    }

    /// `stxr ws, rt, [rn]` (`stlxr` with `release`) — stores if the monitor holds; ws = 0 on success, 1 on failure.
    @inline(__always)
    public func stxr(_ size: AccessSize, status rs: Arm64Register, _ rt: Arm64Register, _ rn: Arm64Register, release: Bool = false) {
        guard Self.isWordOrDouble(size) else { return poison("exclusive store of \(size.rawValue) bytes") }
        emit(Self.sizeField(size) << 30 | 0x0800_7c00 | (release ? 0x8000 : 0) | Self.rm(rs) | Self.rn(rn) | Self.rd(rt))
    }

    /// Exclusives and atomics come in 4- and 8-byte forms only (BPF's atomics too).
    @inline(__always)
    static func isWordOrDouble(_ size: AccessSize) -> Bool { size == .word || size == .double }

    // MARK: LSE atomics, ARMv8.1 (C6.2 "LDADD", "LDCLR", "LDEOR", "LDSET", "SWP", "CAS"), acquire + release (AL)
    //   LD<op>/SWP: |size|1 1 1|0|0 0|A|R|1|  Rs  |o3| opc |0 0|  Rn  |  Rt  |
    //   CAS:        |size|0 0 1 0 0 0|1|L|1|  Rs  |o0|1 1 1 1 1|  Rn  |  Rt  |

    /// The read-modify-write operations of LD<op> (`o3:opc`).
    public enum AtomicMemoryOperation: UInt32, Sendable, CaseIterable {
        /// `[rn] += rs`.
        case add = 0b0000
        /// `[rn] &= ~rs` (bit clear).
        case clear = 0b0001
        /// `[rn] ^= rs`.
        case eor = 0b0010
        /// `[rn] |= rs`.
        case set = 0b0011
        /// `[rn] = rs` (SWP).
        case swap = 0b1000

        public var mnemonic: String {
            switch self {
            case .add: "ldadd"
            case .clear: "ldclr"
            case .eor: "ldeor"
            case .set: "ldset"
            case .swap: "swp"
            }
        }
    }

    /// `ldaddal/ldclral/ldeoral/ldsetal/swpal rs, rt, [rn]` — atomically rt = [rn]; [rn] = op([rn], rs);
    /// acquire and release. rt may be the zero register to discard the old value.
    @inline(__always)
    public func atomic(_ operation: AtomicMemoryOperation, _ size: AccessSize, _ rs: Arm64Register, _ rt: Arm64Register,
                       _ rn: Arm64Register) {
        guard Self.isWordOrDouble(size) else { return poison("atomic of \(size.rawValue) bytes") }
        emit(Self.sizeField(size) << 30 | 0x38e0_0000 | Self.rm(rs) | operation.rawValue << 12 | Self.rn(rn) | Self.rd(rt))
    }

    /// `casal rs, rt, [rn]` — atomically: if [rn] == rs then [rn] = rt; rs = the old [rn]; acquire and release.
    @inline(__always)
    public func casal(_ size: AccessSize, _ rs: Arm64Register, _ rt: Arm64Register, _ rn: Arm64Register) {
        guard Self.isWordOrDouble(size) else { return poison("compare-and-swap of \(size.rawValue) bytes") }
        emit(Self.sizeField(size) << 30 | 0x08e0_fc00 | Self.rm(rs) | Self.rn(rn) | Self.rd(rt))
    }

    /// `dmb ish` — full barrier for the inner shareable domain (C6.2 "DMB").
    @inline(__always)
    public func dmbISH() { emit(0xd503_3bbf) }
}
