/// A RISC-V 64 decoder for `dump jited --arch riscv64`: Debian's Capstone (4.x)
/// has no RISC-V, so BPFKit decodes RV64IMA, the C extension and the Zba/Zbb
/// forms itself. Text is LLVM's canonical syntax without aliases (`llvm-mc
/// -M no-aliases`: `addi a0, zero, 1`, `c.li a0, 1`), which the RISC-V
/// backend's tests compare form by form; branch and jump offsets are relative,
/// as LLVM prints them, followed by the absolute target.
enum RISCVDecoder {
    static let names = [
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
    ]

    /// Decodes `bytes` at `address`: one instruction per 2 or 4 bytes;
    /// what is not a known form is a `.half`/`.word` line.
    static func disassemble(_ bytes: [UInt8], address: UInt64, baseOffset: Int) -> [NativeInstruction] {
        var result: [NativeInstruction] = []
        var position = 0
        while position + 2 <= bytes.count {
            let low = UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8
            let here = address + UInt64(position)
            if low & 3 != 3 {
                let text = compressed(UInt16(low), at: here) ?? ".half 0x" + String(low, radix: 16)
                result.append(NativeInstruction(offset: baseOffset + position, bytes: Array(bytes[position..<position + 2]), text: text))
                position += 2
                continue
            }
            guard position + 4 <= bytes.count else { break }
            let word = low | UInt32(bytes[position + 2]) << 16 | UInt32(bytes[position + 3]) << 24
            let text = full(word, at: here) ?? ".word 0x" + String(word, radix: 16)
            result.append(NativeInstruction(offset: baseOffset + position, bytes: Array(bytes[position..<position + 4]), text: text))
            position += 4
        }
        if position < bytes.count {
            result.append(NativeInstruction(offset: baseOffset + position, bytes: [bytes[position]],
                                            text: ".byte 0x" + String(bytes[position], radix: 16)))
        }
        return result
    }

    static func x(_ n: UInt32) -> String { names[Int(n & 31)] }
    static func signed(_ value: UInt32, bits: Int) -> Int64 { Int64(Int32(bitPattern: value << (32 - bits)) >> (32 - bits)) }
    static func target(_ offset: Int64, _ here: UInt64) -> String {
        "\(offset) # 0x" + String(here &+ UInt64(bitPattern: offset), radix: 16)
    }

    /// A 32-bit instruction.
    static func full(_ w: UInt32, at here: UInt64) -> String? {
        let opcode = w & 0x7f, rd = w >> 7 & 31, funct3 = w >> 12 & 7, rs1 = w >> 15 & 31, rs2 = w >> 20 & 31, funct7 = w >> 25
        let immI = signed(w >> 20, bits: 12)
        switch opcode {
        case 0x37: return "lui \(x(rd)), \(w >> 12)"
        case 0x17: return "auipc \(x(rd)), \(w >> 12)"
        case 0x6f:
            let v = (w >> 31) << 20 | (w >> 21 & 0x3ff) << 1 | (w >> 20 & 1) << 11 | (w >> 12 & 0xff) << 12
            return "jal \(x(rd)), " + target(signed(v, bits: 21), here)
        case 0x67 where funct3 == 0: return "jalr \(x(rd)), \(immI)(\(x(rs1)))"
        case 0x63:
            let v = (w >> 31) << 12 | (w >> 25 & 0x3f) << 5 | (w >> 8 & 0xf) << 1 | (w >> 7 & 1) << 11
            let name = ["beq", "bne", nil, nil, "blt", "bge", "bltu", "bgeu"][Int(funct3)]
            return name.map { "\($0) \(x(rs1)), \(x(rs2)), " + target(signed(v, bits: 13), here) }
        case 0x03:
            let name = ["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", nil][Int(funct3)]
            return name.map { "\($0) \(x(rd)), \(immI)(\(x(rs1)))" }
        case 0x23:
            let imm = signed((w >> 25) << 5 | (w >> 7 & 31), bits: 12)
            let name = ["sb", "sh", "sw", "sd", nil, nil, nil, nil][Int(funct3)]
            return name.map { "\($0) \(x(rs2)), \(imm)(\(x(rs1)))" }
        case 0x13:
            switch funct3 {
            case 1:
                if w >> 26 == 0 { return "slli \(x(rd)), \(x(rs1)), \(w >> 20 & 63)" }
                switch w >> 20 {
                case 0x604: return "sext.b \(x(rd)), \(x(rs1))"
                case 0x605: return "sext.h \(x(rd)), \(x(rs1))"
                default: return nil
                }
            case 5:
                if w >> 20 == 0x6b8 { return "rev8 \(x(rd)), \(x(rs1))" }
                if w >> 26 == 0 { return "srli \(x(rd)), \(x(rs1)), \(w >> 20 & 63)" }
                if w >> 26 == 0x10 { return "srai \(x(rd)), \(x(rs1)), \(w >> 20 & 63)" }
                return nil
            default:
                let name = ["addi", nil, "slti", "sltiu", "xori", nil, "ori", "andi"][Int(funct3)]!
                return "\(name) \(x(rd)), \(x(rs1)), \(immI)"
            }
        case 0x1b:
            switch (funct3, funct7) {
            case (0, _): return "addiw \(x(rd)), \(x(rs1)), \(immI)"
            case (1, 0): return "slliw \(x(rd)), \(x(rs1)), \(rs2)"
            case (5, 0): return "srliw \(x(rd)), \(x(rs1)), \(rs2)"
            case (5, 0x20): return "sraiw \(x(rd)), \(x(rs1)), \(rs2)"
            default: return nil
            }
        case 0x33, 0x3b:
            let table: [UInt32: String] = opcode == 0x33
                ? [0x000: "add", 0x200: "sub", 0x001: "sll", 0x002: "slt", 0x003: "sltu", 0x004: "xor", 0x005: "srl", 0x205: "sra",
                   0x006: "or", 0x007: "and", 0x010: "mul", 0x011: "mulh", 0x012: "mulhsu", 0x013: "mulhu", 0x014: "div",
                   0x015: "divu", 0x016: "rem", 0x017: "remu"]
                : [0x000: "addw", 0x200: "subw", 0x001: "sllw", 0x005: "srlw", 0x205: "sraw", 0x010: "mulw", 0x014: "divw",
                   0x015: "divuw", 0x016: "remw", 0x017: "remuw", 0x040: "add.uw"]
            if opcode == 0x3b, funct7 == 0x04, funct3 == 4, rs2 == 0 { return "zext.h \(x(rd)), \(x(rs1))" }
            if opcode == 0x33, funct7 == 0x10, funct3 == 2 || funct3 == 4 || funct3 == 6 {
                return "sh\(funct3 / 2)add \(x(rd)), \(x(rs1)), \(x(rs2))"
            }
            let key = (funct7 & 0x20) << 4 | (funct7 & 0x05) << 4 | funct3
            guard funct7 & ~0x25 == 0, let name = table[key] else { return nil }
            return "\(name) \(x(rd)), \(x(rs1)), \(x(rs2))"
        case 0x2f where funct3 == 2 || funct3 == 3:
            let size = funct3 == 3 ? ".d" : ".w"
            let order = ["", ".rl", ".aq", ".aqrl"][Int(w >> 25 & 3)]
            switch w >> 27 {
            case 0x02 where rs2 == 0: return "lr\(size)\(order) \(x(rd)), (\(x(rs1)))"
            case 0x03: return "sc\(size)\(order) \(x(rd)), \(x(rs2)), (\(x(rs1)))"
            default:
                let names: [UInt32: String] = [0x00: "amoadd", 0x01: "amoswap", 0x04: "amoxor", 0x08: "amoor", 0x0c: "amoand",
                                               0x10: "amomin", 0x14: "amomax", 0x18: "amominu", 0x1c: "amomaxu"]
                return names[w >> 27].map { "\($0)\(size)\(order) \(x(rd)), \(x(rs2)), (\(x(rs1)))" }
            }
        case 0x0f where w == 0x0330_000f: return "fence rw, rw"
        case 0x73 where w == 0x0010_0073: return "ebreak"
        case 0x73 where w == 0x0000_0073: return "ecall"
        default: return nil
        }
    }

    /// A 16-bit instruction of the C extension (RV64).
    static func compressed(_ h: UInt16, at here: UInt64) -> String? {
        let c = UInt32(h), quadrant = c & 3, funct3 = c >> 13
        let rd = c >> 7 & 31, rs2 = c >> 2 & 31, rdp = 8 + (c >> 7 & 7), rs2p = 8 + (c >> 2 & 7)
        let imm6 = signed((c >> 12 & 1) << 5 | (c >> 2 & 31), bits: 6)
        switch (quadrant, funct3) {
        case (0, 0):
            let v = (c >> 11 & 3) << 4 | (c >> 7 & 0xf) << 6 | (c >> 6 & 1) << 2 | (c >> 5 & 1) << 3
            return v == 0 ? nil : "c.addi4spn \(x(rs2p)), sp, \(v)"
        case (0, 2): return "c.lw \(x(rs2p)), \((c >> 10 & 7) << 3 | (c >> 6 & 1) << 2 | (c >> 5 & 1) << 6)(\(x(rdp)))"
        case (0, 3): return "c.ld \(x(rs2p)), \((c >> 10 & 7) << 3 | (c >> 5 & 3) << 6)(\(x(rdp)))"
        case (0, 6): return "c.sw \(x(rs2p)), \((c >> 10 & 7) << 3 | (c >> 6 & 1) << 2 | (c >> 5 & 1) << 6)(\(x(rdp)))"
        case (0, 7): return "c.sd \(x(rs2p)), \((c >> 10 & 7) << 3 | (c >> 5 & 3) << 6)(\(x(rdp)))"
        case (1, 0): return rd == 0 ? "c.nop" : "c.addi \(x(rd)), \(imm6)"
        case (1, 1): return "c.addiw \(x(rd)), \(imm6)"
        case (1, 2): return "c.li \(x(rd)), \(imm6)"
        case (1, 3):
            if rd == 2 {
                let v = (c >> 12 & 1) << 9 | (c >> 6 & 1) << 4 | (c >> 5 & 1) << 6 | (c >> 3 & 3) << 7 | (c >> 2 & 1) << 5
                return "c.addi16sp sp, \(signed(v, bits: 10))"
            }
            return "c.lui \(x(rd)), \(UInt32(bitPattern: Int32(imm6)) & 0xfffff)"
        case (1, 4):
            let shamt = (c >> 12 & 1) << 5 | (c >> 2 & 31)
            switch c >> 10 & 3 {
            case 0: return "c.srli \(x(rdp)), \(shamt)"
            case 1: return "c.srai \(x(rdp)), \(shamt)"
            case 2: return "c.andi \(x(rdp)), \(imm6)"
            default:
                let op = (c >> 12 & 1) << 2 | (c >> 5 & 3)
                let name = ["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw", nil, nil][Int(op)]
                return name.map { "\($0) \(x(rdp)), \(x(rs2p))" }
            }
        case (1, 5):
            let v = (c >> 12 & 1) << 11 | (c >> 11 & 1) << 4 | (c >> 9 & 3) << 8 | (c >> 8 & 1) << 10 | (c >> 7 & 1) << 6
                | (c >> 6 & 1) << 7 | (c >> 3 & 7) << 1 | (c >> 2 & 1) << 5
            return "c.j " + target(signed(v, bits: 12), here)
        case (1, 6), (1, 7):
            let v = (c >> 12 & 1) << 8 | (c >> 10 & 3) << 3 | (c >> 5 & 3) << 6 | (c >> 3 & 3) << 1 | (c >> 2 & 1) << 5
            return (funct3 == 6 ? "c.beqz " : "c.bnez ") + "\(x(rdp)), " + target(signed(v, bits: 9), here)
        case (2, 0): return "c.slli \(x(rd)), \((c >> 12 & 1) << 5 | rs2)"
        case (2, 2): return "c.lwsp \(x(rd)), \((c >> 12 & 1) << 5 | (c >> 4 & 7) << 2 | (c >> 2 & 3) << 6)(sp)"
        case (2, 3): return "c.ldsp \(x(rd)), \((c >> 12 & 1) << 5 | (c >> 5 & 3) << 3 | (c >> 2 & 7) << 6)(sp)"
        case (2, 4):
            switch (c >> 12 & 1, rd, rs2) {
            case (0, _, 0): return rd == 0 ? nil : "c.jr \(x(rd))"
            case (0, _, _): return "c.mv \(x(rd)), \(x(rs2))"
            case (1, 0, 0): return "c.ebreak"
            case (1, _, 0): return "c.jalr \(x(rd))"
            default: return "c.add \(x(rd)), \(x(rs2))"
            }
        case (2, 6): return "c.swsp \(x(rs2)), \((c >> 9 & 15) << 2 | (c >> 7 & 3) << 6)(sp)"
        case (2, 7): return "c.sdsp \(x(rs2)), \((c >> 10 & 7) << 3 | (c >> 7 & 7) << 6)(sp)"
        default: return nil
        }
    }
}
