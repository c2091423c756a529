import BPFBackendTestKit
import BPFInterpreter
import BPFJITMIPS32
import Testing

/// The MIPS32 JIT's own runaway guard, in both byte orders (the checks
/// every guarded backend shares: `RunawayGuardChecks`): a program whose
/// termination nothing proved stops on the guard, with the interpreter's
/// error and after the interpreter's amount of work; with termination
/// proven there is no guard.
@Suite struct RunawayGuardTests {
    static func checks(bigEndian: Bool) -> RunawayGuardChecks {
        RunawayGuardChecks(engine: MIPS32JIT(bigEndian: bigEndian), reference: Interpreter(byteOrder: bigEndian ? .big : .little)) {
            try MIPS32JIT(bigEndian: bigEndian).emulate($0, configuration: $1).image
        }
    }

    @Test(arguments: [false, true]) func aRunawayLoopStopsOnTheGuardLikeTheInterpreter(bigEndian: Bool) {
        Self.checks(bigEndian: bigEndian).aRunawayLoopStopsOnTheGuardLikeTheInterpreter()
    }
    @Test(arguments: [false, true]) func aSelfJumpStopsAtItsPc(bigEndian: Bool) { Self.checks(bigEndian: bigEndian).aSelfJumpStopsAtItsPc() }
    @Test(arguments: [false, true]) func localCallsAreCharged(bigEndian: Bool) throws {
        try Self.checks(bigEndian: bigEndian).localCallsAreCharged()
    }
    @Test(arguments: [false, true]) func provenTerminationHasNoGuard(bigEndian: Bool) throws {
        try Self.checks(bigEndian: bigEndian).provenTerminationHasNoGuard()
    }
}
