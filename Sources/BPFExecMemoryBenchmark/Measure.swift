import Foundation

enum Clock {
    /// Monotonic time in nanoseconds.
    static func nanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}

enum ProcessMemory {
    /// A "Name:  value kB" field of /proc/self/status, in bytes.
    static func statusField(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return 0
        }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) {
                return kilobytes * 1024
            }
        }
        return 0
    }

    /// Resident set size.
    static var resident: Int {
        statusField("VmRSS")
    }

    /// Memory used by page tables.
    static var pageTables: Int {
        statusField("VmPTE")
    }
}

extension Array where Element == Int {
    /// The value at fraction `quantile` of the sorted values (nearest rank).
    func percentile(_ quantile: Double) -> Int {
        guard !isEmpty else {
            return 0
        }
        let sorted = self.sorted()
        let rank = Int((quantile * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
    }

    var median: Int {
        percentile(0.5)
    }
}

enum Format {
    static func mebibytes(_ bytes: Int) -> String {
        String(format: "%.2f MiB", Double(bytes) / 1_048_576)
    }

    static func nanoseconds(_ value: Int) -> String {
        value >= 10_000 ? String(format: "%.1f µs", Double(value) / 1000) : "\(value) ns"
    }

    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
