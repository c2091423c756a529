import BPFBackendTestKit
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

    static let checks = HardeningChecks(row: BackendRow(name: "x86_64 hardened", configurations: [("hardened", HardenedEngine(X86_64JIT()))],
                                                        architecture: .x86_64, hardened: true)) { try image($0, hardened: $1) }

    /// x86-64 carries a 32-bit constant whole, as an immediate at any byte offset.
    @Test func sprayedConstantsAreInThePlainImageOnly() throws {
        try Self.checks.sprayedConstantsAreInThePlainImageOnly(pieces: { [$0] }, immediates: HardeningChecks.everyWord)
    }

    /// Each compile draws its own key: five runs.
    @Test func blindedSprayAgreesWithTheInterpreter() { Self.checks.blindedSprayAgreesWithTheInterpreter(runs: 5) }

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuiteHardened(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.checks.row, category: name)
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// A fault after blinded instructions names the faulting instruction of
    /// the program as loaded, as does the pc → native map.
    @Test func errorsNameTheOriginalInstruction() throws {
        Self.checks.errorsNameTheOriginalInstruction()
        let program = HardeningChecks.faultingPrograms()[0]
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
