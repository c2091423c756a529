import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import BPFTestSuite
import Foundation
import Synchronization
import Testing

/// Bad programs stop with the interpreter's error, under the emulator too
/// (where a fault would also be caught, the image's own checks come first):
/// the checks every backend shares (`SafetyChecks`), and the emulator's own.
@Suite struct SafetyTests {
    static let checks = SafetyChecks(engine: arm64())

    @Test(arguments: Arm64Atomics.allCases)
    func outOfBoundsAccessesReportLikeTheInterpreter(_ atomics: Arm64Atomics) {
        SafetyChecks(engine: arm64(atomics)).outOfBoundsAccessesReportLikeTheInterpreter()
    }
    @Test func stackBoundsMatchTheInterpreter() { Self.checks.stackBoundsMatchTheInterpreter() }
    @Test func frameAccessesOfEveryOffsetForm() { Self.checks.frameAccessesOfEveryOffsetForm() }
    /// A budget beyond 4095 is charged through x10 (the long body).
    @Test func instructionLimitStopsLoops() { Self.checks.instructionLimitStopsLoops() }

    /// The emulator's own count of native instructions is a backstop behind
    /// the guard; a run that hits it still reports the BPF instruction limit.
    @Test func runsReportTheirNativeInstructionCount() throws {
        let program = try emulated(SamplePrograms.fnv1a.instructions)
        let memory = GuestMemory(bytes: Array(repeating: 7, count: 100))
        let run = try program.execute(RunInput(r1: memory.address, r2: 100, regions: MemoryRegions([memory.region(.input)])))
        #expect(run.value == SamplePrograms.fnv1a(Array(repeating: 7, count: 100)))
        #expect(run.instructionCount > 600 && run.instructionCount < 3000, "\(run.instructionCount)")
        #expect(program.nativeInstructionLimit > program.instructionLimit)
    }

    @Test func uncheckedModeRunsVerifiedPrograms() {
        for atomics in Arm64Atomics.allCases {
            SafetyChecks.uncheckedModeRunsVerifiedPrograms(arm64(atomics, checking: .unchecked))
        }
        // Unchecked, a stray access is still stopped by the emulator, at its instruction.
        let bytes: [UInt8] = [0, 0, 0, 0, 7, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0]
        let stray = bothEngines([.mov64(.r0, 1), .load(.double, dst: .r0, src: .r1, offset: 4096), .exit], memory: bytes,
                                engine: arm64(checking: .unchecked))
        guard case .failure(.outOfBounds(pc: 1, _, 8, false)) = stray.jit else {
            Issue.record("\(stray.jit)")
            return
        }
    }

    @Test func concurrentRunsFromSeveralThreads() throws { try Self.checks.concurrentRunsFromSeveralThreads(threads: 4, runs: 50) }

    @Test func nativeExecutionNeedsAnArm64Host() {
        #if arch(arm64)
        #expect(throws: Never.self) { try Arm64JIT(execution: .native).compileNative(Program([.mov64(.r0, 1), .exit])) }
        #else
        #expect(throws: EngineError.self) { try Arm64JIT(execution: .native).compileNative(Program([.mov64(.r0, 1), .exit])) }
        #endif
    }
}
