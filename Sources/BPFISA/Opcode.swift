/// The numeric fields of the opcode byte (RFC 9669, section 3).
///
/// This is the single source of truth for opcode numbers; the typed
/// `Instruction` model, the assemblers and every engine derive from it.
public enum Opcode {
    // MARK: Instruction classes (low three bits)
    public static let classLD: UInt8 = 0x00
    public static let classLDX: UInt8 = 0x01
    public static let classST: UInt8 = 0x02
    public static let classSTX: UInt8 = 0x03
    public static let classALU: UInt8 = 0x04
    public static let classJMP: UInt8 = 0x05
    public static let classJMP32: UInt8 = 0x06
    public static let classALU64: UInt8 = 0x07

    // MARK: Source bit for arithmetic and jump instructions
    public static let sourceK: UInt8 = 0x00
    public static let sourceX: UInt8 = 0x08

    // MARK: Size field for load and store instructions
    public static let sizeW: UInt8 = 0x00
    public static let sizeH: UInt8 = 0x08
    public static let sizeB: UInt8 = 0x10
    public static let sizeDW: UInt8 = 0x18

    // MARK: Mode field for load and store instructions
    public static let modeIMM: UInt8 = 0x00
    public static let modeABS: UInt8 = 0x20
    public static let modeIND: UInt8 = 0x40
    public static let modeMEM: UInt8 = 0x60
    public static let modeMEMSX: UInt8 = 0x80
    public static let modeATOMIC: UInt8 = 0xc0

    // MARK: Atomic operation codes carried in `imm`
    public static let atomicFetch: Int32 = 0x01
    public static let atomicXCHG: Int32 = 0xe0 | 0x01
    public static let atomicCMPXCHG: Int32 = 0xf0 | 0x01

    /// The instruction class of an opcode byte.
    @inlinable public static func instructionClass(_ opcode: UInt8) -> UInt8 { opcode & 0x07 }
}

/// 32-bit (ALU, JMP32, 32-bit atomics) or 64-bit (ALU64, JMP, 64-bit atomics) operation width.
public enum Width: Sendable, Hashable {
    case w32, w64

    public var bits: Int { self == .w32 ? 32 : 64 }
}

/// Access size of loads, stores and atomics.
public enum AccessSize: UInt8, Sendable, Hashable, CaseIterable {
    case byte = 1, half = 2, word = 4, double = 8

    /// Number of bytes accessed.
    @inlinable public var bytes: Int { Int(rawValue) }

    /// The size field bits of the opcode.
    public var opcodeBits: UInt8 {
        switch self {
        case .byte: Opcode.sizeB
        case .half: Opcode.sizeH
        case .word: Opcode.sizeW
        case .double: Opcode.sizeDW
        }
    }

    init(opcodeBits: UInt8) {
        switch opcodeBits & 0x18 {
        case Opcode.sizeB: self = .byte
        case Opcode.sizeH: self = .half
        case Opcode.sizeW: self = .word
        default: self = .double
        }
    }
}

/// Two-operand arithmetic operations (RFC 9669, section 4.1).
///
/// Signed division and modulo share the DIV and MOD codes and are told apart
/// by `offset == 1`; sign-extending moves are `MovSX`, not listed here.
public enum ALUOperation: Sendable, Hashable, CaseIterable {
    case add, sub, mul, div, sdiv, or, and, lsh, rsh, mod, smod, xor, mov, arsh

    /// The operation field (high four bits) of the opcode.
    public var code: UInt8 {
        switch self {
        case .add: 0x00
        case .sub: 0x10
        case .mul: 0x20
        case .div, .sdiv: 0x30
        case .or: 0x40
        case .and: 0x50
        case .lsh: 0x60
        case .rsh: 0x70
        case .mod, .smod: 0x90
        case .xor: 0xa0
        case .mov: 0xb0
        case .arsh: 0xc0
        }
    }

    /// The value of the offset field that selects this operation.
    public var offsetField: Int16 { (self == .sdiv || self == .smod) ? 1 : 0 }

    static let negCode: UInt8 = 0x80
    static let endCode: UInt8 = 0xd0
}

/// Conditions of conditional jumps (RFC 9669, section 4.3).
public enum JumpCondition: UInt8, Sendable, Hashable, CaseIterable {
    case eq = 0x10, gt = 0x20, ge = 0x30, set = 0x40, ne = 0x50
    case sgt = 0x60, sge = 0x70, lt = 0xa0, le = 0xb0, slt = 0xc0, sle = 0xd0

    /// Whether the comparison treats operands as signed.
    public var isSigned: Bool { [.sgt, .sge, .slt, .sle].contains(self) }

    /// Evaluates the condition on two values of the given width, as RFC 9669 defines it.
    @inlinable
    public func holds(_ lhs: UInt64, _ rhs: UInt64, width: Width) -> Bool {
        if width == .w32 {
            let a = UInt32(truncatingIfNeeded: lhs), b = UInt32(truncatingIfNeeded: rhs)
            let sa = Int32(bitPattern: a), sb = Int32(bitPattern: b)
            switch self {
            case .eq: return a == b
            case .ne: return a != b
            case .gt: return a > b
            case .ge: return a >= b
            case .lt: return a < b
            case .le: return a <= b
            case .set: return a & b != 0
            case .sgt: return sa > sb
            case .sge: return sa >= sb
            case .slt: return sa < sb
            case .sle: return sa <= sb
            }
        }
        let sa = Int64(bitPattern: lhs), sb = Int64(bitPattern: rhs)
        switch self {
        case .eq: return lhs == rhs
        case .ne: return lhs != rhs
        case .gt: return lhs > rhs
        case .ge: return lhs >= rhs
        case .lt: return lhs < rhs
        case .le: return lhs <= rhs
        case .set: return lhs & rhs != 0
        case .sgt: return sa > sb
        case .sge: return sa >= sb
        case .slt: return sa < sb
        case .sle: return sa <= sb
        }
    }
}

/// Read-modify-write operations of the ATOMIC mode (RFC 9669, section 5.3).
public enum AtomicOperation: Sendable, Hashable {
    /// `*addr op= src`; with `fetch`, `src` also receives the old value.
    case add(fetch: Bool), or(fetch: Bool), and(fetch: Bool), xor(fetch: Bool)
    /// Swap `src` and `*addr`.
    case xchg
    /// Compare `*addr` with r0; if equal store `src`. r0 receives the old value.
    case cmpxchg

    /// Every operation, for tests and sweeps.
    public static let all: [AtomicOperation] = [
        .add(fetch: false), .add(fetch: true), .or(fetch: false), .or(fetch: true),
        .and(fetch: false), .and(fetch: true), .xor(fetch: false), .xor(fetch: true),
        .xchg, .cmpxchg,
    ]

    /// The `imm` field that encodes this operation.
    public var immediate: Int32 {
        switch self {
        case .add(let f): 0x00 | (f ? Opcode.atomicFetch : 0)
        case .or(let f): 0x40 | (f ? Opcode.atomicFetch : 0)
        case .and(let f): 0x50 | (f ? Opcode.atomicFetch : 0)
        case .xor(let f): 0xa0 | (f ? Opcode.atomicFetch : 0)
        case .xchg: Opcode.atomicXCHG
        case .cmpxchg: Opcode.atomicCMPXCHG
        }
    }

    /// Decodes the `imm` field; nil for an unknown operation.
    public init?(immediate: Int32) {
        switch immediate {
        case 0x00: self = .add(fetch: false)
        case 0x01: self = .add(fetch: true)
        case 0x40: self = .or(fetch: false)
        case 0x41: self = .or(fetch: true)
        case 0x50: self = .and(fetch: false)
        case 0x51: self = .and(fetch: true)
        case 0xa0: self = .xor(fetch: false)
        case 0xa1: self = .xor(fetch: true)
        case Opcode.atomicXCHG: self = .xchg
        case Opcode.atomicCMPXCHG: self = .cmpxchg
        default: return nil
        }
    }

    /// Whether the old memory value is returned (in `src`, or r0 for cmpxchg).
    public var fetches: Bool {
        switch self {
        case .add(let f), .or(let f), .and(let f), .xor(let f): f
        case .xchg, .cmpxchg: true
        }
    }
}

/// Byte-order conversions of the END operation (RFC 9669, section 4.2).
public enum ByteSwapKind: Sendable, Hashable, CaseIterable {
    /// Convert between host order and little endian (ALU class, source K).
    case toLittleEndian
    /// Convert between host order and big endian (ALU class, source X).
    case toBigEndian
    /// Unconditional byte swap (ALU64 class, cpu v4).
    case swap
}

/// What a call instruction calls (RFC 9669, section 4.3.1).
public enum CallTarget: Sendable, Hashable {
    /// A helper function by its static number (src = 0).
    case helper(Int32)
    /// A local function at `pc + 1 + offset` (src = 1).
    case local(offset: Int32)
    /// A helper function by BTF id, a kernel function (src = 2).
    case kfunc(btfID: Int32)
    /// Call through a register (opcode 0x8d, register in dst as LLVM emits `callx`);
    /// BPFKit reads the register as a helper number.
    case register(Register)
}

/// The kinds of 64-bit immediate load (RFC 9669, section 5.4).
///
/// BPFKit decodes and carries them; resolving maps, variables and code addresses
/// to values is the runtime's job.
public enum Immediate64: Sendable, Hashable {
    /// src 0: the 64-bit constant itself.
    case value(UInt64)
    /// src 1: the map with this file descriptor.
    case mapByFD(Int32)
    /// src 2: address of the value of the map with this descriptor, plus offset.
    case mapValueByFD(fd: Int32, offset: UInt32)
    /// src 3: address of the variable with this BTF id (next imm: BTF object fd).
    case variable(btfID: Int32, btfFD: Int32)
    /// src 4: address of the code at `pc + 1 + offset`.
    case codeAddress(offset: Int32)
    /// src 5: the map at this index of the program's map table.
    case mapByIndex(Int32)
    /// src 6: address of the value of the map at this index, plus offset.
    case mapValueByIndex(index: Int32, offset: UInt32)

    /// The `src` field that encodes this kind.
    public var sourceField: UInt8 {
        switch self {
        case .value: 0
        case .mapByFD: 1
        case .mapValueByFD: 2
        case .variable: 3
        case .codeAddress: 4
        case .mapByIndex: 5
        case .mapValueByIndex: 6
        }
    }
}
