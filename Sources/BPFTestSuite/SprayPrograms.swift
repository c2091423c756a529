import BPFISA

/// A JIT-spraying-shaped program: a run of instructions whose immediates are
/// distinctive 32-bit constants an attacker would choose (ALU and ALU64
/// operations, stores, conditional jumps of both widths, both halves of
/// 64-bit constant loads), for checking that a hardened image holds none of
/// them (`JITBlinding`). Every constant has its top bit clear and no zero
/// half, so a plain image carries each one whole (x86-64) or as two 16-bit
/// move-wide halves (arm64); none is subtracted, which arm64 encodes as the
/// addition of its negation. The program computes a value from them all
/// and returns it, so that engines can be compared on it too.
public enum SprayPrograms {
    /// The constants the program carries, in order.
    public static func constants(count: Int = 24) -> [UInt32] {
        (0..<UInt32(count)).map { 0x3a5c_1d27 &+ $0 &* 0x0101_0b03 }
    }

    public static func program() -> Program {
        let c = constants().map { Int32(bitPattern: $0) }
        var code: [Instruction] = [
            .alu(.w64, .mov, dst: .r0, .immediate(c[0])),
            .alu(.w64, .add, dst: .r0, .immediate(c[1])),
            .alu(.w32, .xor, dst: .r0, .immediate(c[2])),
            .alu(.w64, .or, dst: .r0, .immediate(c[3])),
            .alu(.w64, .add, dst: .r0, .immediate(c[4])),
            .alu(.w32, .and, dst: .r0, .immediate(c[5])),
            .alu(.w64, .mul, dst: .r0, .immediate(c[6])),
            .alu(.w32, .mov, dst: .r2, .immediate(c[7])),
            .alu(.w64, .div, dst: .r2, .immediate(c[8])),
            .alu(.w64, .add, dst: .r0, .register(.r2)),
            .storeImmediate(.word, dst: .r10, offset: -8, imm: c[9]),
            .storeImmediate(.double, dst: .r10, offset: -16, imm: c[10]),
            .load(.word, dst: .r3, src: .r10, offset: -8),
            .alu(.w64, .add, dst: .r0, .register(.r3)),
            .load(.double, dst: .r3, src: .r10, offset: -16),
            .alu(.w64, .xor, dst: .r0, .register(.r3)),
            .loadImmediate64(dst: .r4, .value(UInt64(UInt32(bitPattern: c[12])) << 32 | UInt64(UInt32(bitPattern: c[11])))),
            .immediate64Tail,
            .alu(.w64, .add, dst: .r0, .register(.r4)),
            // Jumps whose targets lie beyond the next slot (a jump to the
            // next slot compiles to nothing).
            .branch(.w64, .eq, dst: .r0, .immediate(c[13]), offset: 1),
            .alu(.w64, .add, dst: .r0, .immediate(c[14])),
            .branch(.w32, .ne, dst: .r0, .immediate(c[15]), offset: 1),
            .alu(.w32, .add, dst: .r0, .immediate(c[16])),
            .branch(.w64, .gt, dst: .r0, .immediate(c[17]), offset: 1),
            .alu(.w32, .or, dst: .r0, .immediate(c[18])),
            .branch(.w32, .slt, dst: .r0, .immediate(c[19]), offset: 1),
            .alu(.w64, .xor, dst: .r0, .immediate(c[20])),
            .storeImmediate(.word, dst: .r1, offset: 0, imm: c[21]),
            .load(.word, dst: .r5, src: .r1, offset: 0),
            .alu(.w64, .add, dst: .r0, .register(.r5)),
            .loadImmediate64(dst: .r5, .value(UInt64(UInt32(bitPattern: c[23])) << 32 | UInt64(UInt32(bitPattern: c[22])))),
            .immediate64Tail,
            .alu(.w64, .xor, dst: .r0, .register(.r5)),
        ]
        code.append(.exit)
        return Program(code)
    }

    /// Bytes of input memory the program stores into (through r1).
    public static let memorySize = 8
}
