import BPFBackendTestKit
import BPFJITArm32
import Testing

/// The arm32 JIT's own runaway guard (the checks every guarded backend
/// shares: `RunawayGuardChecks`): a program whose termination nothing
/// proved stops on the guard, with the interpreter's error and after the
/// interpreter's amount of work; with termination proven there is no guard.
@Suite struct RunawayGuardTests {
    static let checks = RunawayGuardChecks(engine: arm32()) { try arm32().emulate($0, configuration: $1).image }

    @Test func aRunawayLoopStopsOnTheGuardLikeTheInterpreter() { Self.checks.aRunawayLoopStopsOnTheGuardLikeTheInterpreter() }
    @Test func aSelfJumpStopsAtItsPc() { Self.checks.aSelfJumpStopsAtItsPc() }
    @Test func localCallsAreCharged() throws { try Self.checks.localCallsAreCharged() }
    @Test func provenTerminationHasNoGuard() throws { try Self.checks.provenTerminationHasNoGuard() }
}
