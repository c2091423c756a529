import Foundation

/// Samples of one measurement (nanoseconds per run, one sample per batch of
/// runs) and their median and spread.
struct Samples: Codable, Sendable {
    /// Nanoseconds per run, one value per sample, in the order taken.
    let values: [Double]
    /// Runs timed in each sample.
    let runsPerSample: Int

    init(_ values: [Double], runsPerSample: Int) {
        precondition(!values.isEmpty, "a measurement has at least one sample")
        self.values = values
        self.runsPerSample = runsPerSample
    }

    var sorted: [Double] { values.sorted() }
    var median: Double { Self.quantile(sorted, 0.5) }
    var minimum: Double { sorted.first! }
    var maximum: Double { sorted.last! }
    /// Interquartile range: third quartile minus first.
    var interquartileRange: Double { Self.quantile(sorted, 0.75) - Self.quantile(sorted, 0.25) }

    /// Linear interpolation between closest ranks.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}

enum BenchMath {
    /// Geometric mean of positive values (nil when there are none).
    static func geometricMean(_ values: [Double]) -> Double? {
        let positive = values.filter { $0 > 0 }
        guard !positive.isEmpty, positive.count == values.count else { return nil }
        return exp(positive.map { log($0) }.reduce(0, +) / Double(positive.count))
    }

    /// Nanoseconds since an arbitrary point, from the monotonic clock.
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// How many runs make a sample of about `target` nanoseconds, given an estimate per run.
    static func runs(toFill target: Double, estimate: Double, limit: Int = 10_000_000) -> Int {
        guard estimate > 0 else { return limit }
        return max(1, min(limit, Int(target / estimate)))
    }
}

/// Numbers as the report prints them.
enum BenchFormat {
    /// Nanoseconds with three significant digits and thousands separators (`1,234`, `12.3`, `0.85`).
    static func nanoseconds(_ value: Double) -> String {
        if value >= 100 { return grouped(Int(value.rounded())) }
        if value >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.2f", value)
    }

    /// A ratio with two decimals (`1.07`), or three significant digits when large.
    static func ratio(_ value: Double) -> String {
        value >= 100 ? grouped(Int(value.rounded())) : value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value)
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Microseconds with one decimal.
    static func microseconds(_ nanoseconds: Double) -> String { String(format: "%.1f", nanoseconds / 1_000) }
}
