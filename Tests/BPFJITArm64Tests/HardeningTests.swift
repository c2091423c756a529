import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// arm64 JIT. A fixed-width backend builds constants 16 bits at a time
/// (move-wide instructions), so the scan looks for each 32-bit constant in
/// the bytes and for each of its 16-bit halves in every move-wide immediate.
@Suite struct HardeningTests {
    static func image(_ program: Program, hardened: Bool) throws -> JITImage {
        try Arm64JIT.assemble(program, configuration: engineConfiguration(limit: 10_000, hardened: hardened), at: 0x1000_0000)
    }

    static func words(_ bytes: [UInt8]) -> [UInt32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
        }
    }

    /// The imm16 fields of the MOVZ/MOVN/MOVK instructions (Arm ARM C4.1.92, "Move wide (immediate)").
    static func moveWideImmediates(_ bytes: [UInt8]) -> Set<UInt16> {
        Set(words(bytes).filter { ($0 >> 23) & 0x3f == 0x25 }.map { UInt16(truncatingIfNeeded: $0 >> 5) })
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        let program = SprayPrograms.program()
        let halves = SprayPrograms.constants().flatMap { [UInt16(truncatingIfNeeded: $0), UInt16($0 >> 16)] }
        let plain = Self.moveWideImmediates(try Self.image(program, hardened: false).bytes)
        for half in halves {
            let found = plain.contains(half)
            #expect(found, "plain image lacks the half 0x\(String(half, radix: 16))")
        }
        // Each compile draws its own key. A whole constant may not appear in
        // any image; a 16-bit half may match a blinded immediate by chance
        // (one in 65536 per move-wide instruction), never in three images
        // with independent keys, as one the code planted would.
        var inEvery = Set(halves)
        for _ in 0..<3 {
            let hardened = try Self.image(program, hardened: true)
            #expect(hardened.instructionCount == program.count)
            for constant in SprayPrograms.constants() {
                let found = containsWord(hardened.bytes, constant)
                #expect(!found, "hardened image holds 0x\(String(constant, radix: 16))")
            }
            inEvery.formIntersection(Self.moveWideImmediates(hardened.bytes))
        }
        #expect(inEvery.isEmpty, "halves in every hardened image: \(inEvery.map { String($0, radix: 16) })")
    }

    @Test func blindedSprayAgreesWithTheInterpreter() {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let reference = outcome(program, memory: memory, on: Interpreter(), limit: 10_000)
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        #expect(Self.hardenedOutcome(program, memory: memory) == reference)
    }

    /// A hardened run on the arm64 JIT.
    static func hardenedOutcome(_ program: Program, memory: [UInt8]) -> Outcome {
        outcome(program, memory: memory, on: arm64(), limit: 10_000, hardened: true)
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let cases = GeneratedSuite.categories().first { $0.name == name }!.cases
        var failures: [String] = []
        for testCase in cases {
            let jit = Self.hardenedOutcome(testCase.program, memory: testCase.memory)
            let reference = outcome(testCase.program, memory: testCase.memory, on: Interpreter(), limit: 10_000)
            if jit != reference || jit != .value(testCase.expected) {
                failures.append("\(testCase.name): hardened jit \(jit), interpreter \(reference)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// A fault after blinded instructions names the original instruction.
    @Test func errorsNameTheOriginalInstruction() {
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
        let hardened = Self.hardenedOutcome(program, memory: [0, 0, 0, 0])
        guard case .failure(let error) = hardened else {
            Issue.record("expected a fault, got \(hardened)")
            return
        }
        #expect(error.pc == 6)
    }
}
