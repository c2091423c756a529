import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// RISC-V 64 JIT, whose auxiliary register is t0 (`RV64RegisterMap`).
/// RISC-V builds a 32-bit constant as `lui` (the upper 20 bits, rounded)
/// plus a 12-bit `addiw`, so the scan looks for each sprayed constant as a
/// word in the bytes and for its `lui` part in every `lui` of the image.
@Suite struct HardeningTests {
    static let engine = HardenedEngine(RV64JIT())

    static func image(_ program: Program, hardened: Bool) throws -> JITImage {
        var configuration = EngineConfiguration(instructionLimit: 10_000)
        configuration.hardened = hardened
        return try RV64JIT.listingImage(program, configuration: configuration)
    }

    /// The 20-bit immediates of every `lui` (opcode 0x37) in the image.
    static func luiImmediates(_ bytes: [UInt8]) -> Set<UInt32> {
        Set(stride(from: 0, to: bytes.count - 3, by: 4).compactMap { k -> UInt32? in
            let w = UInt32(bytes[k]) | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2]) << 16 | UInt32(bytes[k + 3]) << 24
            return w & 0x7f == 0x37 ? w >> 12 : nil
        })
    }

    static func containsWord(_ bytes: [UInt8], _ value: UInt32) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24 == value
        }
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        let program = SprayPrograms.program()
        let uppers = SprayPrograms.constants().map { ($0 &+ 0x800) >> 12 }
        let plain = Self.luiImmediates(try Self.image(program, hardened: false).bytes)
        // Constants 11, 12, 22 and 23 are halves of 64-bit loads, which the
        // plain code builds from shifted parts of the whole value instead.
        for (k, upper) in uppers.enumerated() where ![11, 12, 22, 23].contains(k) {
            #expect(plain.contains(upper), "plain image lacks lui 0x\(String(upper, radix: 16))")
        }
        var inEvery = Set(uppers)
        for _ in 0..<3 {
            let hardened = try Self.image(program, hardened: true)
            #expect(hardened.instructionCount == program.count)
            for constant in SprayPrograms.constants() {
                #expect(!Self.containsWord(hardened.bytes, constant), "hardened image holds 0x\(String(constant, radix: 16))")
            }
            inEvery.formIntersection(Self.luiImmediates(hardened.bytes))
        }
        #expect(inEvery.isEmpty, "lui parts in every hardened image: \(inEvery.map { String($0, radix: 16) })")
    }

    /// The spray program: its store through r1 keeps its bounds check, a
    /// host call with ax (t0) live across it.
    @Test func blindedSprayAgreesWithTheInterpreter() {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let reference = BackendMatrix.outcome(program, memory: memory, on: Rows.hardened.reference, limit: 10_000)
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        for (_, engine) in Rows.hardened.configurations {
            #expect(BackendMatrix.outcome(program, memory: memory, on: engine, limit: 10_000) == reference)
        }
    }

    /// A blinded store whose bounds check fails names the original instruction.
    @Test func errorsNameTheOriginalInstruction() {
        let program = Program([
            .alu(.w64, .mov, dst: .r0, .immediate(0x1234_5678)),
            .storeImmediate(.word, dst: .r10, offset: -8, imm: 0x0bad_cafe),
            .loadImmediate64(dst: .r2, .value(0x1122_3344_5566_7788)),
            .immediate64Tail,
            .branch(.w64, .eq, dst: .r0, .immediate(7), offset: 1),
            .alu(.w64, .add, dst: .r1, .immediate(0x10_0000)),
            .storeImmediate(.word, dst: .r1, offset: 0, imm: 0x3a5c_1d27),   // slot 6: out of bounds
            .exit,
        ])
        let hardened = BackendMatrix.outcome(program, memory: [0, 0, 0, 0], on: Self.engine)
        guard case .failure(let error) = hardened else {
            Issue.record("expected a fault, got \(hardened)")
            return
        }
        #expect(error.pc == 6)
    }

    /// The categories whose immediates blinding rewrites in the most ways
    /// (32-bit ALU and jumps, 64-bit constants, stores of immediates); the
    /// whole suite hardened passes too (19,808 cases), but costs the
    /// emulated target's time budget twice.
    @Test(arguments: ["alu32", "jmp32", "ld_imm64", "memory"])
    func generatedSuiteHardened(_ name: String) {
        let row = BackendRow(name: "riscv64 hardened", configurations: [("hardened", Self.engine)], architecture: .riscv64, hardened: true)
        let (cases, failures) = BackendMatrix.generatedSuite(row, category: name)
        print("generated suite on riscv64 hardened, \(name): \(cases - failures.count)/\(cases) passed")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// The random differential programs, blinded, plain and compressed.
    @Test func randomProgramsHardenedMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(Rows.hardened, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("riscv64 hardened differential fuzz: \(count) programs × \(Rows.hardened.configurations.count), \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
