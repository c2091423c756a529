import Foundation

/// What one run came to. Errors compare by kind only (their addresses and
/// messages differ between engines); a stop by the runaway guard ends the
/// comparison (engines charge the guard at different points).
public enum Outcome: Equatable, CustomStringConvertible, Sendable {
    case value(UInt64, packet: [UInt8])
    case error(String)
    case limit
    /// The value map's contents after the runs.
    case map([UInt8])

    public func agrees(with other: Outcome) -> Bool {
        switch (self, other) {
        case (.value, .value), (.map, .map): self == other
        case (.error, .error), (.limit, .limit): true
        default: false
        }
    }

    public var description: String {
        func hex(_ bytes: [UInt8]) -> String {
            bytes.prefix(32).map { String(format: "%02x", $0) }.joined() + (bytes.count > 32 ? "… (\(bytes.count) bytes)" : "")
        }
        return switch self {
        case .value(let r0, let packet): "r0 = 0x\(String(r0, radix: 16)), packet \(hex(packet))"
        case .error(let message): "error: \(message)"
        case .limit: "stopped by the instruction limit"
        case .map(let bytes): "map \(hex(bytes))"
        }
    }
}

/// What the oracle concluded about two engines' outcomes.
public enum Judgement: Equatable, Sendable {
    /// They agree on every run.
    case agreed
    /// They differ at run `index` of these outcomes (the reruns' when the
    /// first runs were rerun).
    case diverged(index: Int, expected: [Outcome], actual: [Outcome])
}

/// The differential campaign's oracle: whether an engine's outcomes over a
/// case's runs agree with the reference's.
public enum DifferentialOracle {
    /// Where two engines' outcomes first disagree (a shorter list disagrees
    /// where it ends), or nil.
    public static func firstDifference(_ expected: [Outcome], _ actual: [Outcome]) -> Int? {
        for index in 0..<min(expected.count, actual.count) where !actual[index].agrees(with: expected[index]) {
            return index
        }
        return expected.count == actual.count ? nil : min(expected.count, actual.count)
    }

    /// The instruction limit of the rerun after a stop by the runaway guard
    /// on one side only: `limit` times the case's `slots` (all its
    /// programs' instruction slots) plus 2.
    public static func rerunLimit(_ limit: UInt64, slots: Int) -> UInt64 {
        limit * UInt64(slots + 2)
    }

    /// Judges `actual` against `expected`, both run with instruction limit
    /// `limit` over a case of `slots` instruction slots.
    ///
    /// The JIT's runaway guard charges a backward jump the slots it spans
    /// and a local call 1, not each instruction executed (see the runaway
    /// guard in docs/ARCHITECTURE.md), so near the limit one engine may stop
    /// where the other finishes. That is accounting, not a wrong result:
    /// where the first difference is such a stop on exactly one side, both
    /// run again (`rerun`, given the new limit) with room for any charge (a
    /// charge is at most the program's length per executed instruction, and
    /// the other way round), where they must agree on everything. A rerun
    /// that fails to start keeps the first difference.
    public static func judge(expected: [Outcome], actual: [Outcome], limit: UInt64, slots: Int,
                             rerun: (UInt64) throws -> (expected: [Outcome], actual: [Outcome])) -> Judgement {
        guard let index = firstDifference(expected, actual) else { return .agreed }
        let oneSideStopped = index < expected.count && index < actual.count
            && (expected[index] == .limit) != (actual[index] == .limit)
        guard oneSideStopped else { return .diverged(index: index, expected: expected, actual: actual) }
        let again: (expected: [Outcome], actual: [Outcome])
        do {
            again = try rerun(rerunLimit(limit, slots: slots))
        } catch {
            return .diverged(index: index, expected: expected, actual: actual)
        }
        if let rerun = firstDifference(again.expected, again.actual) {
            return .diverged(index: rerun, expected: again.expected, actual: again.actual)
        }
        return .agreed
    }
}
