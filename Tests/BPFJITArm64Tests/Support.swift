import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime

/// The engine under test, in a given configuration.
func arm64(_ atomics: Arm64Atomics = .lse, placement: BPFEmulator.ImagePlacement = .nearHelpers,
           checking: MemoryChecking = .checked) -> Arm64JIT {
    Arm64JIT(options: Arm64Options(memoryChecking: checking, atomics: atomics), execution: .emulated(placement))
}

/// Compiles for the emulator.
func emulated(_ instructions: [Instruction], helpers: [Helper] = [], limit: UInt64 = ExecutionLimits.defaultInstructionLimit,
              engine: Arm64JIT = arm64()) throws -> Arm64EmulatedProgram {
    try engine.emulate(Program(instructions), configuration: EngineConfiguration(helpers: HelperRegistry(helpers), instructionLimit: limit),
                       placement: { if case .emulated(let p) = engine.execution { return p } else { return .nearHelpers } }())
}

/// Runs on the arm64 JIT (emulated) and on the interpreter over the same
/// input memory (the same addresses, the bytes reset in between).
func bothEngines(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [],
                 limit: UInt64 = 100_000, engine: Arm64JIT = arm64()) -> (jit: Outcome, interpreter: Outcome) {
    runOnBoth(instructions, memory: bytes, helpers: helpers, limit: limit, engine: engine)
}

/// Short spellings for building programs in tests.
extension Instruction {
    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov64(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func ld64(_ d: Register, _ v: UInt64) -> Instruction { .loadImmediate64(dst: d, .value(v)) }
}
