import BPFBackendTestKit
import BPFEmulator
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import Testing

/// Helper calls (near: direct `bl`; far: indirect) under the emulator,
/// and the checks every backend shares (`CallChecks`: failures, `callx`,
/// local calls and their frames), each near and far from the helpers.
@Suite struct CallTests {
    static let sum = CallChecks.sum
    static let callSum = CallChecks.callSum
    static let expectedSum = CallChecks.expectedSum
    static let placements: [BPFEmulator.ImagePlacement] = [.nearHelpers, .farFromHelpers]
    static let checks = CallChecks(engine: arm64())

    @Test func nearHelperCallsAreDirectAndFarOnesIndirect() throws {
        let near = try emulated(Self.callSum, helpers: [Self.sum], engine: arm64(placement: .nearHelpers))
        let far = try emulated(Self.callSum, helpers: [Self.sum], engine: arm64(placement: .farFromHelpers))
        let helper = try near.machine.helperAddress(for: 1)
        #expect(near.image.statistics.directCalls == 1 && near.image.statistics.indirectCalls == 0, "\(near.image.statistics)")
        #expect(far.image.statistics.directCalls == 0 && far.image.statistics.indirectCalls == 1, "\(far.image.statistics)")
        let farHelper = try far.machine.helperAddress(for: 1)
        #expect(abs(Int64(bitPattern: UInt64(far.image.address) &- farHelper)) >= 1 << 27, "out of bl's reach")
        #expect(abs(Int64(bitPattern: UInt64(near.image.address) &- helper)) < 1 << 27)
        #expect(near.image.size < far.image.size)
        for program in [near, far] {
            #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == Self.expectedSum)
        }
    }

    @Test(arguments: placements) func helperResultsMatchTheInterpreter(_ placement: BPFEmulator.ImagePlacement) {
        CallChecks(engine: arm64(placement: placement)).helperResultsMatchTheInterpreter()
    }
    @Test(arguments: placements) func failingHelperStopsTheRunAtItsPc(_ placement: BPFEmulator.ImagePlacement) {
        CallChecks(engine: arm64(placement: placement)).failingHelperStopsTheRunAtItsPc()
    }
    @Test(arguments: placements) func callThroughRegister(_ placement: BPFEmulator.ImagePlacement) {
        CallChecks(engine: arm64(placement: placement)).callThroughRegister()
    }
    @Test func unknownHelperIsRejectedAtPrepare() { Self.checks.unknownHelperIsRejectedAtPrepare() }
    @Test func helperReadsTheStack() { Self.checks.helperReadsTheStack() }

    /// Only the argument registers read after a call are kept across it.
    @Test func argumentsAreKeptOnlyWhereRead() throws {
        let identity = Helper(id: 4, name: "id", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { $0.argument(1) }
        // After the call: r2 read, r1 and r3–r5 overwritten or never read.
        let program: [Instruction] = [
            .mov64(.r1, 10), .mov64(.r2, 20), .mov64(.r3, 30), .call(.helper(4)),
            .mov64(.r1, 1), .alu(.w64, .add, dst: .r0, .register(.r2)), .alu(.w64, .add, dst: .r0, .register(.r1)), .exit,
        ]
        let both = bothEngines(program, helpers: [identity])
        #expect(both.jit == .value(31) && both.jit == both.interpreter)
        let lean = try emulated(program, helpers: [identity])
        // The same call with all five read afterwards: three pairs pushed and popped instead of one.
        let readAll: [Instruction] = [.mov64(.r1, 10), .mov64(.r2, 20), .mov64(.r3, 30), .call(.helper(4))]
            + (1...5).map { .alu(.w64, .add, dst: .r0, .register(Register(rawValue: UInt8($0))!)) } + [.exit]
        let full = try emulated(readAll, helpers: [identity])
        let leanCall = lean.image.nativeRange(of: 3).count, fullCall = full.image.nativeRange(of: 3).count
        #expect(leanCall + 4 * 4 == fullCall, "call sites of \(leanCall) and \(fullCall) bytes")
        #expect(bothEngines(readAll, helpers: [identity]).jit == .value(10 + 10 + 20 + 30))
    }

    @Test func recursionIntoTheEntryFunctionAndTheDepthLimit() throws { try Self.checks.recursionIntoTheEntryFunctionAndTheDepthLimit() }
    @Test func localCallsKeepR6ToR9AndHaveTheirOwnFrames() { Self.checks.localCallsKeepR6ToR9AndHaveTheirOwnFrames() }
    @Test func calleeArgumentRegistersReachTheCaller() { Self.checks.calleeArgumentRegistersReachTheCaller() }
    /// Errors deep in local calls unwind every frame and leave the caller's
    /// registers intact (the emulator checks the callee-saved ones at exit).
    @Test func errorsInsideLocalCallsUnwind() throws { try Self.checks.errorsInsideLocalCallsUnwind(runs: 2) }
    @Test func kfuncAndUnresolvedLoadsStopLikeTheInterpreter() { Self.checks.kfuncAndUnresolvedLoadsStopLikeTheInterpreter() }
}
