/// The Zba and Zbb instructions of RV64 (The RISC-V Bit-Manipulation
/// ISA-extensions, version 1.0.0), decoded and computed in software.
///
/// Unicorn 2.0.1's RISC-V 64 core does not implement them: it raises the
/// illegal-instruction exception. A machine whose architecture names them
/// (`SoftInstructions.riscvBitManipulation`) performs each one when the CPU
/// refuses it, so code that uses them runs; any other illegal instruction
/// stays a fault.
public enum RISCVBitManipulation {
    /// The extension an operation belongs to.
    public enum Extension: Sendable, Hashable {
        case zba, zbb
    }

    /// Every RV64 Zba and Zbb instruction, named as the specification (and
    /// llvm-mc) spells it.
    public enum Operation: String, CaseIterable, Sendable, Hashable {
        // Zba: address generation.
        case addUW = "add.uw", sh1add, sh2add, sh3add
        case sh1addUW = "sh1add.uw", sh2addUW = "sh2add.uw", sh3addUW = "sh3add.uw", slliUW = "slli.uw"
        // Zbb: basic bit manipulation.
        case andn, orn, xnor
        case clz, clzw, ctz, ctzw, cpop, cpopw
        case max, maxu, min, minu
        case sextB = "sext.b", sextH = "sext.h", zextH = "zext.h"
        case rol, rolw, ror, rori, roriw, rorw
        case orcB = "orc.b", rev8

        public var `extension`: Extension {
            switch self {
            case .addUW, .sh1add, .sh2add, .sh3add, .sh1addUW, .sh2addUW, .sh3addUW, .slliUW: .zba
            default: .zbb
            }
        }

        public var mnemonic: String { rawValue }

        /// The operand shape: two source registers, one, or one and a shift amount.
        public enum Shape: Sendable { case registers, unary, shift }

        public var shape: Shape {
            switch self {
            case .clz, .clzw, .ctz, .ctzw, .cpop, .cpopw, .sextB, .sextH, .zextH, .orcB, .rev8: .unary
            case .slliUW, .rori, .roriw: .shift
            default: .registers
            }
        }
    }

    /// One decoded instruction: register numbers (x0–x31) and, for the
    /// immediate rotates and `slli.uw`, the shift amount.
    public struct Instruction: Sendable, Hashable, CustomStringConvertible {
        public var operation: Operation
        public var rd: UInt32
        public var rs1: UInt32
        public var rs2: UInt32
        public var shamt: UInt32

        public init(_ operation: Operation, rd: UInt32, rs1: UInt32, rs2: UInt32 = 0, shamt: UInt32 = 0) {
            self.operation = operation
            self.rd = rd
            self.rs1 = rs1
            self.rs2 = rs2
            self.shamt = shamt
        }

        /// `rd`'s new value, reading the source registers through `register`.
        public func result(_ register: (UInt32) -> UInt64) -> UInt64 {
            RISCVBitManipulation.evaluate(operation, register(rs1), operation.shape == .registers ? register(rs2) : 0, shamt: shamt)
        }

        public var description: String {
            switch operation.shape {
            case .registers: "\(operation.mnemonic) x\(rd), x\(rs1), x\(rs2)"
            case .unary: "\(operation.mnemonic) x\(rd), x\(rs1)"
            case .shift: "\(operation.mnemonic) x\(rd), x\(rs1), \(shamt)"
            }
        }
    }

    /// The instruction a 32-bit word encodes, if it is one of the Zba/Zbb
    /// forms; nil for every other word (16-bit forms included).
    public static func decode(_ word: UInt32) -> Instruction? {
        let opcode = word & 0x7f, rd = word >> 7 & 31, funct3 = word >> 12 & 7
        let rs1 = word >> 15 & 31, rs2 = word >> 20 & 31, funct7 = word >> 25, imm12 = word >> 20
        func r(_ operation: Operation) -> Instruction { Instruction(operation, rd: rd, rs1: rs1, rs2: rs2) }
        func u(_ operation: Operation) -> Instruction { Instruction(operation, rd: rd, rs1: rs1) }
        func s(_ operation: Operation, _ shamt: UInt32) -> Instruction { Instruction(operation, rd: rd, rs1: rs1, shamt: shamt) }
        switch opcode {
        case 0x33:                                            // OP
            switch (funct7, funct3) {
            case (0x10, 2): return r(.sh1add)
            case (0x10, 4): return r(.sh2add)
            case (0x10, 6): return r(.sh3add)
            case (0x20, 7): return r(.andn)
            case (0x20, 6): return r(.orn)
            case (0x20, 4): return r(.xnor)
            case (0x05, 4): return r(.min)
            case (0x05, 5): return r(.minu)
            case (0x05, 6): return r(.max)
            case (0x05, 7): return r(.maxu)
            case (0x30, 1): return r(.rol)
            case (0x30, 5): return r(.ror)
            default: return nil
            }
        case 0x3b:                                            // OP-32
            switch (funct7, funct3) {
            case (0x04, 0): return r(.addUW)
            case (0x10, 2): return r(.sh1addUW)
            case (0x10, 4): return r(.sh2addUW)
            case (0x10, 6): return r(.sh3addUW)
            case (0x30, 1): return r(.rolw)
            case (0x30, 5): return r(.rorw)
            case (0x04, 4) where rs2 == 0: return u(.zextH)
            default: return nil
            }
        case 0x13:                                            // OP-IMM
            switch funct3 {
            case 1:
                switch imm12 {
                case 0x600: return u(.clz)
                case 0x601: return u(.ctz)
                case 0x602: return u(.cpop)
                case 0x604: return u(.sextB)
                case 0x605: return u(.sextH)
                default: return nil
                }
            case 5:
                if imm12 == 0x6b8 { return u(.rev8) }
                if imm12 == 0x287 { return u(.orcB) }
                if word >> 26 == 0x18 { return s(.rori, imm12 & 63) }
                return nil
            default: return nil
            }
        case 0x1b:                                            // OP-IMM-32
            switch funct3 {
            case 1:
                if word >> 26 == 0x02 { return s(.slliUW, imm12 & 63) }
                switch imm12 {
                case 0x600: return u(.clzw)
                case 0x601: return u(.ctzw)
                case 0x602: return u(.cpopw)
                default: return nil
                }
            case 5:
                return funct7 == 0x30 ? s(.roriw, rs2) : nil
            default: return nil
            }
        default:
            return nil
        }
    }

    /// The result of `operation` on `a` (rs1) and `b` (rs2; unused by the
    /// unary and immediate forms), as the specification defines it.
    public static func evaluate(_ operation: Operation, _ a: UInt64, _ b: UInt64, shamt: UInt32 = 0) -> UInt64 {
        let low = a & 0xFFFF_FFFF
        func sext32(_ v: UInt32) -> UInt64 { UInt64(bitPattern: Int64(Int32(bitPattern: v))) }
        func rotl32(_ v: UInt32, _ n: UInt32) -> UInt32 { n == 0 ? v : v << n | v >> (32 - n) }
        func rotl64(_ v: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? v : v << n | v >> (64 - n) }
        switch operation {
        case .addUW: return b &+ low
        case .sh1add: return b &+ (a << 1)
        case .sh2add: return b &+ (a << 2)
        case .sh3add: return b &+ (a << 3)
        case .sh1addUW: return b &+ (low << 1)
        case .sh2addUW: return b &+ (low << 2)
        case .sh3addUW: return b &+ (low << 3)
        case .slliUW: return low << UInt64(shamt & 63)
        case .andn: return a & ~b
        case .orn: return a | ~b
        case .xnor: return ~(a ^ b)
        case .clz: return UInt64(a.leadingZeroBitCount)
        case .clzw: return UInt64(UInt32(truncatingIfNeeded: a).leadingZeroBitCount)
        case .ctz: return UInt64(a.trailingZeroBitCount)
        case .ctzw: return UInt64(UInt32(truncatingIfNeeded: a).trailingZeroBitCount)
        case .cpop: return UInt64(a.nonzeroBitCount)
        case .cpopw: return UInt64(UInt32(truncatingIfNeeded: a).nonzeroBitCount)
        case .max: return Int64(bitPattern: a) < Int64(bitPattern: b) ? b : a
        case .maxu: return a < b ? b : a
        case .min: return Int64(bitPattern: a) < Int64(bitPattern: b) ? a : b
        case .minu: return a < b ? a : b
        case .sextB: return UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: a)))
        case .sextH: return UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: a)))
        case .zextH: return a & 0xFFFF
        case .rol: return rotl64(a, b & 63)
        case .ror: return rotl64(a, (64 - b & 63) & 63)
        case .rori: return rotl64(a, UInt64(64 - shamt & 63) & 63)
        case .rolw: return sext32(rotl32(UInt32(low), UInt32(b & 31)))
        case .rorw: return sext32(rotl32(UInt32(low), (32 - UInt32(b & 31)) & 31))
        case .roriw: return sext32(rotl32(UInt32(low), (32 - (shamt & 31)) & 31))
        case .orcB:
            var result: UInt64 = 0
            for k in 0..<8 where a >> (8 * UInt64(k)) & 0xff != 0 { result |= 0xff << (8 * UInt64(k)) }
            return result
        case .rev8: return a.byteSwapped
        }
    }
}
