import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) on the
/// MIPS32 JIT in both byte orders, whose auxiliary register is t8:t9
/// (`MIPS32RegisterMap`). MIPS builds a 32-bit constant 16 bits at a time
/// (`lui`, then `ori`; `addiu`, `andi`, `xori` take 16-bit immediates too),
/// so the scan looks for each 32-bit constant in the bytes and for each of
/// its 16-bit halves in every such immediate.
@Suite struct HardeningTests {
    static func row(bigEndian: Bool) -> BackendRow {
        BackendRow(name: bigEndian ? "mips32be hardened" : "mips32le hardened",
                   configurations: [("hardened", HardenedEngine(MIPS32JIT(bigEndian: bigEndian)))],
                   architecture: bigEndian ? .mips32be : .mips32le, hardened: true, byteOrder: bigEndian ? .big : .little)
    }

    static func configuration(hardened: Bool) -> EngineConfiguration {
        var configuration = EngineConfiguration(instructionLimit: 10_000)
        configuration.hardened = hardened
        return configuration
    }

    static func image(_ program: Program, hardened: Bool, bigEndian: Bool) throws -> JITImage {
        try MIPS32JIT.listingImage(program, configuration: configuration(hardened: hardened),
                                   options: MIPS32Options(bigEndian: bigEndian))
    }

    static func words(_ bytes: [UInt8], bigEndian: Bool) -> [UInt32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map { k in
            let b = bigEndian ? [bytes[k + 3], bytes[k + 2], bytes[k + 1], bytes[k]] : Array(bytes[k..<k + 4])
            return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        }
    }

    /// The 16-bit immediates of every ADDIU (9), ANDI (12), ORI (13), XORI
    /// (14) and LUI (15) instruction (MIPS32 Vol. II, I-type).
    static func immediates(_ bytes: [UInt8], bigEndian: Bool) -> Set<UInt16> {
        Set(words(bytes, bigEndian: bigEndian).filter { [9, 12, 13, 14, 15].contains($0 >> 26) }
            .map { UInt16(truncatingIfNeeded: $0) })
    }

    /// Whether `value` appears in `bytes` as a word in either byte order.
    static func containsWord(_ bytes: [UInt8], _ value: UInt32) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains {
            let le = UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
            return le == value || le.byteSwapped == value
        }
    }

    @Test(arguments: [false, true]) func sprayedConstantsAreInThePlainImageOnly(bigEndian: Bool) throws {
        let program = SprayPrograms.program()
        let halves = SprayPrograms.constants().flatMap { [UInt16(truncatingIfNeeded: $0), UInt16($0 >> 16)] }
        let plain = Self.immediates(try Self.image(program, hardened: false, bigEndian: bigEndian).bytes, bigEndian: bigEndian)
        for half in halves {
            let found = plain.contains(half)
            #expect(found, "plain image lacks the half 0x\(String(half, radix: 16))")
        }
        // Each compile draws its own key: a 16-bit half may match a blinded
        // immediate by chance, never in three images with independent keys,
        // as one the code planted would.
        var inEvery = Set(halves)
        for _ in 0..<3 {
            let hardened = try Self.image(program, hardened: true, bigEndian: bigEndian)
            #expect(hardened.instructionCount == program.count)
            for constant in SprayPrograms.constants() {
                let found = Self.containsWord(hardened.bytes, constant)
                #expect(!found, "hardened image holds 0x\(String(constant, radix: 16))")
            }
            inEvery.formIntersection(Self.immediates(hardened.bytes, bigEndian: bigEndian))
        }
        #expect(inEvery.isEmpty, "halves in every hardened image: \(inEvery.map { String($0, radix: 16) })")
    }

    /// The spray program: its store through r1 keeps its bounds check, a
    /// host call with ax (t8:t9) live across it.
    @Test(arguments: [false, true]) func blindedSprayAgreesWithTheInterpreter(bigEndian: Bool) {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let row = Self.row(bigEndian: bigEndian)
        let reference = BackendMatrix.outcome(program, memory: memory, on: row.reference, limit: 10_000)
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        let got = BackendMatrix.outcome(program, memory: memory, on: row.configurations[0].engine, limit: 10_000)
        #expect(got == reference)
    }

    /// A blinded store whose bounds check fails names the original instruction.
    @Test(arguments: [false, true]) func errorsNameTheOriginalInstruction(bigEndian: Bool) {
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
        let hardened = BackendMatrix.outcome(program, memory: [0, 0, 0, 0], on: Self.row(bigEndian: bigEndian).configurations[0].engine)
        guard case .failure(let error) = hardened else {
            Issue.record("expected a fault, got \(hardened)")
            return
        }
        #expect(error.pc == 6)
    }

    @Test(arguments: GeneratedSuite.categories().map(\.name), [false, true])
    func generatedSuiteHardened(_ name: String, bigEndian: Bool) {
        let row = Self.row(bigEndian: bigEndian)
        let (cases, failures) = BackendMatrix.generatedSuite(row, category: name)
        print("generated suite on \(row.name), \(name): \(cases - failures.count)/\(cases) passed")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// `--engine jit --arch mips32le|mips32be --harden` through the facade's
    /// runner, and each file's outcome against the interpreter of the same
    /// byte order, error for error.
    @Test(arguments: [false, true]) func conformanceCorpusHardened(bigEndian: Bool) throws {
        let row = Self.row(bigEndian: bigEndian)
        let (files, failures) = try BackendMatrix.conformanceCorpus(row)
        print("conformance corpus on \(row.name): \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }

    /// The backend's random differential programs, blinded, in both byte orders.
    @Test(arguments: [false, true]) func randomProgramsHardenedMatchTheInterpreter(bigEndian: Bool) {
        let row = Self.row(bigEndian: bigEndian)
        let (count, failures) = BackendMatrix.randomDifferential(row, seeds: 1...150) { RegisterPairFuzz.program(seed: $0) }
        print("\(row.name) differential fuzz: \(count) programs, \(failures.count) differences")
        #expect(count > 100)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
