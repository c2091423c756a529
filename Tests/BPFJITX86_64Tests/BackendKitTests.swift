import BPFBackendTestKit
import BPFJIT
import BPFISA
import BPFJITX86_64
import BPFRuntime
import Testing

/// The x86-64 row of the shared backend test kit: with BMI2's three-operand
/// shifts where the CPU has them, and with the `cl` forms everywhere; the
/// verified XDP differential fuzz runs 600 programs natively.
enum Rows {
    static let x86_64 = BackendRow(
        name: "x86_64",
        configurations: (JITOptions.hostHasBMI2 ? [("bmi2 shifts", X86_64JIT(options: JITOptions(useBMI2: true)))] : [])
            + [("cl shifts", X86_64JIT(options: JITOptions(useBMI2: false)))],
        architecture: .x86_64,
        verifiedFuzzPrograms: 600)
}

/// Every check of the kit (`BackendKit.checks`) on x86-64, natively.
@Suite(.enabled(if: JITArchitecture.host == .x86_64, "the x86-64 JIT runs natively only"))
struct BackendKitTests {
    @Test(arguments: BackendKit.checks(Rows.x86_64))
    func kit(_ check: BackendCheck) throws {
        try check.expectPasses()
    }
}

/// The verified fuzz's address-dependence rule without a second layout: a
/// program that compares the packet's end with a stack pointer branches on
/// where the engines placed their memory (under AddressSanitizer the layouts
/// the fuzz tries do not move far enough to show it), so it is counted as
/// address-dependent, never failed; the same comparison with a packet
/// pointer is an ordinary bounds check and is compared.
@Suite struct VerifiedFuzzAddressTests {
    static func program(comparing base: Register) -> Program {
        Program([
            .load(.word, dst: .r6, src: .r1, offset: 0),        // data
            .load(.word, dst: .r7, src: .r1, offset: 4),        // data_end
            .alu(.w64, .mov, dst: .r5, .register(base)),
            .alu(.w64, .add, dst: .r5, .immediate(1)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)),
            .branch(.w64, .ge, dst: .r7, .register(.r5), offset: 1),
            .alu(.w64, .mov, dst: .r0, .immediate(1)),
            .exit,
        ])
    }

    @Test func aPacketEndComparedWithAStackPointerIsAddressDependent() {
        #expect(VerifiedFuzz.mayLeakAddresses(Self.program(comparing: .r10)))
        #expect(!VerifiedFuzz.mayLeakAddresses(Self.program(comparing: .r6)))
    }
}
