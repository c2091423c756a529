import BPFBackendTestKit
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

/// Helper calls (near and far); the checks every backend shares
/// (`CallChecks`: failures, `callx`, local calls and their frames).
@Suite struct CallTests {
    static let checks = CallChecks(engine: X86_64JIT())
    static let sum = CallChecks.sum
    static let callSum = CallChecks.callSum
    static let expectedSum = CallChecks.expectedSum
    static let fail = CallChecks.fail
    static let readStack = CallChecks.readStack
    static let recursion = CallChecks.recursion

    @Test func nearHelperCallIsDirect() throws {
        let memory = TestCodeMemory(.near(JITHostRoutines.callHelperAddress))
        let program = try jit(Self.callSum, helpers: [Self.sum], memory: memory)
        #expect(program.image.statistics.directCalls == 1 && program.image.statistics.indirectCalls == 0,
                 "image at 0x\(String(program.image.address, radix: 16)), helper routine at 0x\(String(JITHostRoutines.callHelperAddress, radix: 16)): \(program.image.statistics)")
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == Self.expectedSum)
    }

    @Test func farHelperCallIsIndirect() throws {
        let memory = TestCodeMemory(.far(JITHostRoutines.callHelperAddress))
        let program = try jit(Self.callSum, helpers: [Self.sum], memory: memory)
        let distance = Int64(bitPattern: UInt64(program.image.address)) - Int64(bitPattern: UInt64(JITHostRoutines.callHelperAddress))
        #expect(abs(distance) > Int64(Int32.max))
        #expect(program.image.statistics.directCalls == 0 && program.image.statistics.indirectCalls == 1)
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == Self.expectedSum)
    }

    @Test func helperResultsMatchTheInterpreter() { Self.checks.helperResultsMatchTheInterpreter() }
    @Test func failingHelperStopsTheRunAtItsPc() { Self.checks.failingHelperStopsTheRunAtItsPc() }
    @Test func unknownHelperIsRejectedAtPrepare() { Self.checks.unknownHelperIsRejectedAtPrepare() }
    @Test func helperReadsTheStack() { Self.checks.helperReadsTheStack() }
    @Test func callThroughRegister() { Self.checks.callThroughRegister() }
    @Test func recursionIntoTheEntryFunctionAndTheDepthLimit() throws { try Self.checks.recursionIntoTheEntryFunctionAndTheDepthLimit() }
    @Test func localCallsKeepR6ToR9AndHaveTheirOwnFrames() { Self.checks.localCallsKeepR6ToR9AndHaveTheirOwnFrames() }
    @Test func calleeArgumentRegistersReachTheCaller() { Self.checks.calleeArgumentRegistersReachTheCaller() }
    /// Errors deep in local calls unwind every frame and leave the host intact.
    @Test func errorsInsideLocalCallsUnwind() throws { try Self.checks.errorsInsideLocalCallsUnwind(runs: 3) }
    @Test func kfuncAndUnresolvedLoadsStopLikeTheInterpreter() { Self.checks.kfuncAndUnresolvedLoadsStopLikeTheInterpreter() }
}
