import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime

/// The engine under test, in a given configuration.
func arm32(divide: Bool = true, placement: BPFEmulator.ImagePlacement = .nearHelpers, checking: MemoryChecking = .checked) -> Arm32JIT {
    Arm32JIT(options: Arm32Options(memoryChecking: checking, hardwareDivide: divide), placement: placement)
}

/// Runs on the arm32 JIT (emulated) and on the interpreter over the same
/// input memory (the same addresses, the bytes reset in between).
func bothEngines(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [],
                 limit: UInt64 = 100_000, engine: Arm32JIT = arm32()) -> (jit: Outcome, interpreter: Outcome) {
    runOnBoth(instructions, memory: bytes, helpers: helpers, limit: limit, engine: engine)
}

extension Instruction {
    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov64(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func ld64(_ d: Register, _ v: UInt64) -> Instruction { .loadImmediate64(dst: d, .value(v)) }
}
