import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJITMIPS32
import BPFRuntime

/// Runs on the MIPS32 JIT (emulated, little endian unless asked) and on the
/// interpreter of the same byte order over the same input memory (the
/// bytes reset in between).
func bothEngines(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [],
                 limit: UInt64 = 100_000, bigEndian: Bool = false) -> (jit: Outcome, interpreter: Outcome) {
    runOnBoth(instructions, memory: bytes, helpers: helpers, limit: limit, engine: MIPS32JIT(bigEndian: bigEndian),
              reference: Interpreter(byteOrder: bigEndian ? .big : .little))
}

extension Instruction {
    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov64(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func ld64(_ d: Register, _ v: UInt64) -> Instruction { .loadImmediate64(dst: d, .value(v)) }
}
