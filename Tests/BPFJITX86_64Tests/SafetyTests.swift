import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Foundation
import Testing

/// Bad programs stop with the interpreter's error; the host never crashes
/// (the checks every backend shares: `SafetyChecks`).
@Suite struct SafetyTests {
    static let checks = SafetyChecks(engine: X86_64JIT())

    @Test func outOfBoundsAccessesReportLikeTheInterpreter() { Self.checks.outOfBoundsAccessesReportLikeTheInterpreter() }
    @Test func stackBoundsMatchTheInterpreter() { Self.checks.stackBoundsMatchTheInterpreter() }
    @Test func frameAccessesOfEveryOffsetForm() { Self.checks.frameAccessesOfEveryOffsetForm() }
    @Test func instructionLimitStopsLoops() { Self.checks.instructionLimitStopsLoops() }
    @Test func uncheckedModeRunsVerifiedPrograms() {
        SafetyChecks.uncheckedModeRunsVerifiedPrograms(X86_64JIT(options: JITOptions(memoryChecking: .unchecked)))
    }
    @Test func concurrentRunsFromSeveralThreads() throws { try Self.checks.concurrentRunsFromSeveralThreads(threads: 8, runs: 500) }
}

import Synchronization

/// Programs shared by tests and the benchmark.
enum BenchmarkPrograms {
    /// FNV-1a over [r1, r1 + r2): r0 = hash.
    static let fnv1a: [Instruction] = [
        .ld64(.r0, 0xcbf2_9ce4_8422_2325),
        .ld64(.r4, 0x0000_0100_0000_01b3),
        .mov64(.r3, .r1), .alu(.w64, .add, dst: .r3, .register(.r2)),       // r3 = end
        .branch(.w64, .ge, dst: .r1, .register(.r3), offset: 5),            // while r1 < r3
        .load(.byte, dst: .r5, src: .r1, offset: 0),
        .alu(.w64, .xor, dst: .r0, .register(.r5)),
        .alu(.w64, .mul, dst: .r0, .register(.r4)),
        .alu(.w64, .add, dst: .r1, .immediate(1)),
        .jump(offset: -6),
        .exit,
    ]
}
