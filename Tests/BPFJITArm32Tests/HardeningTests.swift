import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// arm32 JIT, whose auxiliary register is a slot (`Arm32RegisterMap`). A32
/// builds a constant that no rotated 8-bit immediate encodes with
/// `movw`/`movt`, 16 bits at a time, so the scan looks for each 32-bit
/// constant in the bytes and for each of its 16-bit halves in every
/// `movw`/`movt` immediate.
@Suite struct HardeningTests {
    /// The hardened arm32 row of the shared matrix: both division configurations.
    static let row = BackendRow(name: "arm32 hardened",
                                configurations: [("udiv hardened", HardenedEngine(arm32())),
                                                 ("calls hardened", HardenedEngine(arm32(divide: false)))],
                                architecture: .arm32, hardened: true)

    static func configuration(hardened: Bool) -> EngineConfiguration {
        var configuration = EngineConfiguration(instructionLimit: 10_000)
        configuration.hardened = hardened
        return configuration
    }

    static func image(_ program: Program, hardened: Bool) throws -> JITImage {
        try Arm32JIT.listingImage(program, configuration: configuration(hardened: hardened))
    }

    static func words(_ bytes: [UInt8]) -> [UInt32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
        }
    }

    /// The imm16 (imm4:imm12) of every MOVW (cond 0011 0000) and MOVT (cond
    /// 0011 0100) instruction (Arm ARM A8.8.102, A8.8.106).
    static func moveImmediates(_ bytes: [UInt8]) -> Set<UInt16> {
        Set(words(bytes).filter { ($0 >> 20) & 0xff == 0x30 || ($0 >> 20) & 0xff == 0x34 }
            .map { UInt16(truncatingIfNeeded: ($0 >> 16) & 0xf) << 12 | UInt16(truncatingIfNeeded: $0 & 0xfff) })
    }

    static func containsWord(_ bytes: [UInt8], _ value: UInt32) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24 == value
        }
    }

    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        let program = SprayPrograms.program()
        let halves = SprayPrograms.constants().flatMap { [UInt16(truncatingIfNeeded: $0), UInt16($0 >> 16)] }
        let plain = Self.moveImmediates(try Self.image(program, hardened: false).bytes)
        for half in halves {
            let found = plain.contains(half)
            #expect(found, "plain image lacks the half 0x\(String(half, radix: 16))")
        }
        // Each compile draws its own key: a 16-bit half may match a blinded
        // immediate by chance, never in three images with independent keys,
        // as one the code planted would.
        var inEvery = Set(halves)
        for _ in 0..<3 {
            let hardened = try Self.image(program, hardened: true)
            #expect(hardened.instructionCount == program.count)
            for constant in SprayPrograms.constants() {
                let found = Self.containsWord(hardened.bytes, constant)
                #expect(!found, "hardened image holds 0x\(String(constant, radix: 16))")
            }
            inEvery.formIntersection(Self.moveImmediates(hardened.bytes))
        }
        #expect(inEvery.isEmpty, "halves in every hardened image: \(inEvery.map { String($0, radix: 16) })")
    }

    /// The spray program (its store through r1 keeps its bounds check, a
    /// host call with ax live across it) on both configurations.
    @Test func blindedSprayAgreesWithTheInterpreter() {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let reference = outcome(program, memory: memory, on: Interpreter(), limit: 10_000)
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        for (label, engine) in Self.row.configurations {
            let got = BackendMatrix.outcome(program, memory: memory, on: engine, limit: 10_000)
            #expect(got.description == reference.description, "\(label): \(got), interpreter \(reference)")
        }
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.row, category: name)
        print("generated suite on arm32 hardened, \(name): \(cases) cases × \(Self.row.configurations.count) configurations, \(failures.count) failures")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// `--engine jit --arch arm32 --harden` through the facade's runner, and
    /// each file's outcome against the interpreter's, error for error.
    @Test func conformanceCorpusHardened() throws {
        let (files, failures) = try BackendMatrix.conformanceCorpus(Self.row)
        print("conformance corpus on arm32 hardened: \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }

    /// The backend's random differential programs, blinded.
    @Test func randomProgramsHardenedMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(Self.row, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("arm32 hardened differential fuzz: \(count) programs, \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
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
        let hardened = BackendMatrix.outcome(program, memory: [0, 0, 0, 0], on: HardenedEngine(arm32()))
        guard case .failure(let error) = hardened else {
            Issue.record("expected a fault, got \(hardened)")
            return
        }
        #expect(error.pc == 6)
    }
}
