import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// x86-64 JIT: no chosen immediate in the image, the same results as the
/// interpreter, and everything a user sees in the original numbering.
@Suite struct HardeningTests {
    static func image(_ program: Program, hardened: Bool) throws -> JITImage {
        try X86_64JIT.assemble(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened), at: 0x1000_0000)
    }

    /// A hardened run on the x86-64 JIT.
    static func outcome(_ program: Program, memory: [UInt8]) -> Outcome {
        BPFBackendTestKit.outcome(program, memory: memory, on: X86_64JIT(), limit: 10_000, hardened: true)
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        let program = SprayPrograms.program()
        let plain = try Self.image(program, hardened: false).bytes
        for constant in SprayPrograms.constants() {
            let found = containsWord(plain, constant)
            #expect(found, "plain image lacks 0x\(String(constant, radix: 16))")
        }
        // Each hardened compile draws its own key; none may hold a constant.
        for _ in 0..<3 {
            let hardened = try Self.image(program, hardened: true)
            #expect(hardened.instructionCount == program.count)
            for constant in SprayPrograms.constants() {
                let found = containsWord(hardened.bytes, constant)
                #expect(!found, "hardened image holds 0x\(String(constant, radix: 16))")
            }
        }
    }

    @Test func blindedSprayAgreesWithTheInterpreter() {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let reference = ParityTests.outcome(program, memory: memory, on: Interpreter())
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        for _ in 0..<5 {
            let jit = Self.outcome(program, memory: memory)
            #expect(jit == reference)
        }
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let cases = GeneratedSuite.categories().first { $0.name == name }!.cases
        var failures: [String] = []
        for testCase in cases {
            let jit = Self.outcome(testCase.program, memory: testCase.memory)
            let reference = ParityTests.outcome(testCase.program, memory: testCase.memory, on: Interpreter())
            if jit != reference || jit != .value(testCase.expected) {
                failures.append("\(testCase.name): hardened jit \(jit), interpreter \(reference)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// A fault after blinded instructions names the faulting instruction of
    /// the program as loaded, as does the pc → native map.
    @Test func errorsNameTheOriginalInstruction() throws {
        let program = Program([
            .alu(.w64, .mov, dst: .r0, .immediate(0x1234_5678)),
            .storeImmediate(.word, dst: .r10, offset: -8, imm: 0x0bad_cafe),
            .loadImmediate64(dst: .r2, .value(0x1122_3344_5566_7788)),
            .immediate64Tail,
            .branch(.w64, .eq, dst: .r0, .immediate(7), offset: 1),
            .alu(.w64, .add, dst: .r1, .immediate(0x10_0000)),
            .load(.word, dst: .r0, src: .r1, offset: 0),    // slot 6: out of bounds
            .exit,
        ])
        let reference = ParityTests.outcome(program, memory: [0, 0, 0, 0], on: Interpreter())
        let hardened = Self.outcome(program, memory: [0, 0, 0, 0])
        guard case .failure(let error) = hardened else {
            Issue.record("expected a fault, got \(hardened)")
            return
        }
        #expect(error.pc == 6)
        guard case .failure(let expected) = reference else { return }
        #expect(expected.pc == error.pc)
        let image = try Self.image(program, hardened: true)
        #expect(image.instructionCount == program.count)
        // The load's native code is where the map says: the blinded slots
        // before it belong to the instructions they came from.
        #expect(!image.nativeRange(of: 6).isEmpty)
        #expect(image.nativeRange(of: 3).isEmpty)  // the second slot of a 64-bit load
        #expect(image.nativeRange(of: 2).count > image.nativeRange(of: 0).count)
    }

    @Test func blindingRewritesEveryImmediate() throws {
        let program = SprayPrograms.program()
        let blinding = try JITBlinding.blind(program, key: 0x1234_5678)
        #expect(blinding.origin.count == blinding.program.count)
        #expect(blinding.slots.count == program.count + 1)
        let constants = Set(SprayPrograms.constants().map { Int32(bitPattern: $0) })
        for instruction in blinding.program.instructions {
            switch instruction {
            case .alu(_, _, _, .immediate(let imm)), .branch(_, _, _, .immediate(let imm), _),
                 .storeImmediate(_, _, _, let imm):
                #expect(!constants.contains(imm), "\(instruction) carries a program constant")
            case .loadImmediate64(_, .value):
                Issue.record("a 64-bit constant load was left as it was")
            default:
                continue
            }
        }
    }
}
