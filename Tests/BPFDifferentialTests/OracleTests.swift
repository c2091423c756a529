import BPFDifferential
import Testing

/// The differential campaign's oracle (`DifferentialOracle.judge`): a stop
/// by the runaway guard on one side only is accounting and is rerun with
/// room; anything else that differs is a divergence.
@Suite struct OracleTests {
    static let packet: [UInt8] = [1, 2, 3]
    static let finished: [Outcome] = [.value(1, packet: packet), .value(2, packet: packet), .map([0, 7])]

    /// A rerun that records the limits it was asked for and returns `result`.
    final class Rerun {
        var limits: [UInt64] = []
        let result: (expected: [Outcome], actual: [Outcome])?
        init(_ result: (expected: [Outcome], actual: [Outcome])?) { self.result = result }
        func callAsFunction(_ limit: UInt64) throws -> (expected: [Outcome], actual: [Outcome]) {
            limits.append(limit)
            guard let result else { throw Failure() }
            return result
        }
        struct Failure: Error {}
    }

    @Test func agreeingOutcomesAgreeWithoutARerun() {
        let rerun = Rerun(nil)
        let errors: [Outcome] = [.error("out of bounds at 0x10"), .map([0])]
        let otherErrors: [Outcome] = [.error("out of bounds at 0x7f00"), .map([0])]
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: Self.finished, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction) == .agreed)
        // Errors agree by kind, whatever their messages.
        #expect(DifferentialOracle.judge(expected: errors, actual: otherErrors, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction) == .agreed)
        #expect(rerun.limits.isEmpty)
    }

    /// The JIT stopped on its guard at run 1 where the interpreter finished:
    /// both run again with limit × (slots + 2), where they agree.
    @Test(arguments: [false, true])
    func aGuardStopOnOneSideOnlyRerunsAndThenAgrees(jitStops: Bool) {
        let stopped: [Outcome] = [.value(1, packet: Self.packet), .limit]
        let rerun = Rerun((Self.finished, Self.finished))
        let judgement = DifferentialOracle.judge(expected: jitStops ? Self.finished : stopped,
                                                 actual: jitStops ? stopped : Self.finished,
                                                 limit: 100, slots: 5, rerun: rerun.callAsFunction)
        #expect(judgement == .agreed)
        #expect(rerun.limits == [700])
    }

    /// A wrong value is reported as it stands, with no rerun, even in a
    /// case where one side later stops on its guard.
    @Test func aRealDivergenceStillReports() {
        let wrong: [Outcome] = [.value(9, packet: Self.packet), .limit]
        let rerun = Rerun((Self.finished, Self.finished))
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: wrong, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 0, expected: Self.finished, actual: wrong))
        #expect(rerun.limits.isEmpty)
        // A different packet is as wrong as a different r0, and so is the map.
        let packet: [Outcome] = [.value(1, packet: [1, 2, 4]), .value(2, packet: Self.packet), .map([0, 7])]
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: packet, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 0, expected: Self.finished, actual: packet))
        let map: [Outcome] = [.value(1, packet: Self.packet), .value(2, packet: Self.packet), .map([0, 8])]
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: map, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 2, expected: Self.finished, actual: map))
        // An error where the interpreter finished.
        let error: [Outcome] = [.value(1, packet: Self.packet), .error("out of bounds"), .map([0, 7])]
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: error, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 1, expected: Self.finished, actual: error))
        #expect(rerun.limits.isEmpty)
    }

    /// After a guard stop, the rerun's own difference is what is reported.
    @Test func aDivergenceFoundByTheRerunReports() {
        let stopped: [Outcome] = [.value(1, packet: Self.packet), .limit]
        let wrong: [Outcome] = [.value(1, packet: Self.packet), .value(3, packet: Self.packet), .map([0, 7])]
        let rerun = Rerun((Self.finished, wrong))
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: stopped, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 1, expected: Self.finished, actual: wrong))
        #expect(rerun.limits == [700])
    }

    /// A JIT whose code truly loops stops on its guard however much room
    /// the rerun gives it: still a divergence.
    @Test func aJITThatTrulyLoopsStillDiverges() {
        let loops: [Outcome] = [.limit]
        let rerun = Rerun((Self.finished, loops))
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: loops, limit: 200_000, slots: 40,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 0, expected: Self.finished, actual: loops))
        #expect(rerun.limits == [200_000 * 42])
    }

    /// A rerun that cannot start keeps the first difference.
    @Test func aRerunThatFailsKeepsTheFirstDifference() {
        let stopped: [Outcome] = [.limit]
        let rerun = Rerun(nil)
        #expect(DifferentialOracle.judge(expected: Self.finished, actual: stopped, limit: 100, slots: 5,
                                         rerun: rerun.callAsFunction)
                == .diverged(index: 0, expected: Self.finished, actual: stopped))
        #expect(rerun.limits == [700])
    }

    @Test func firstDifference() {
        #expect(DifferentialOracle.firstDifference(Self.finished, Self.finished) == nil)
        #expect(DifferentialOracle.firstDifference(Self.finished, Array(Self.finished.prefix(2))) == 2)
        #expect(DifferentialOracle.firstDifference([.limit], [.limit]) == nil)
        #expect(DifferentialOracle.firstDifference([.limit], [.error("x")]) == 0)
    }
}
