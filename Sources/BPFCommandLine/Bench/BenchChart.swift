import Foundation

/// The report's chart as SVG, drawn by hand: one group of horizontal bars per
/// program, one bar per timed engine, the median ns per run on a log scale,
/// with a whisker from the fastest to the slowest sample.
enum BenchChart {
    static let palette: [String: String] = [
        "interpreter": "#8c8c8c", "kernel": "#e6862e", "native": "#3a9a4a",
    ]
    static let others = ["#2f6fb3", "#8e5bb5", "#c2417a", "#4aa3a8"]

    static func svg(_ report: BenchReport) -> String {
        let columns = report.timedColumns
        var colors: [String: String] = [:]
        var spare = others.makeIterator()
        for column in columns { colors[column.key] = palette[column.key] ?? spare.next() ?? "#555555" }

        let values = report.rows.flatMap { row in
            columns.compactMap { row.outcomes[$0.key]?.status == .measured ? row.outcomes[$0.key]?.samples : nil }
                .flatMap { [$0.minimum, $0.maximum, $0.median] }
        }.filter { $0 > 0 }
        let low = floor(log10(values.min() ?? 1)), high = max(ceil(log10(values.max() ?? 10)), low + 1)

        let left = 170.0, right = 90.0, top = 70.0, bar = 11.0, gap = 2.0, groupGap = 12.0
        let width = 980.0, plot = width - left - right
        let groupHeight = Double(columns.count) * (bar + gap) - gap
        let height = top + Double(report.rows.count) * (groupHeight + groupGap) + 40
        func x(_ value: Double) -> Double { left + (log10(max(value, pow(10, low))) - low) / (high - low) * plot }

        var s: [String] = []
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                 + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">")
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        s.append(text(left, 20, "BPFKit benchmark suite: ns per run (median, log scale; whiskers: fastest to slowest sample)",
                      size: 14, weight: "bold"))
        s.append(text(left, 37, "\(report.machine.cpu), \(report.machine.cores) cores, \(report.machine.kernel); \(report.mode) run, \(report.date)",
                      size: 11, fill: "#555555"))
        // Legend.
        var legendX = left
        for column in columns {
            s.append("<rect x=\"\(f(legendX))\" y=\"47\" width=\"12\" height=\"10\" fill=\"\(colors[column.key]!)\"/>")
            s.append(text(legendX + 16, 56, column.title))
            legendX += 16 + Double(column.title.count) * 6.5 + 18
        }
        // Decades.
        let plotBottom = height - 40
        for decade in Int(low)...Int(high) {
            let position = x(pow(10, Double(decade)))
            s.append("<line x1=\"\(f(position))\" y1=\"\(f(top - 6))\" x2=\"\(f(position))\" y2=\"\(f(plotBottom))\" stroke=\"#dddddd\"/>")
            s.append(text(position, plotBottom + 14, label(pow(10, Double(decade))), anchor: "middle", fill: "#555555"))
        }
        s.append(text(left + plot / 2, plotBottom + 30, "nanoseconds per run", anchor: "middle", fill: "#555555"))
        // Bars.
        var y = top
        for row in report.rows {
            s.append(text(left - 8, y + groupHeight / 2 + 4, row.name, anchor: "end", weight: "bold"))
            for column in columns {
                let outcome = row.outcomes[column.key]
                if outcome?.status == .measured, let samples = outcome?.samples {
                    let end = x(samples.median)
                    s.append("<rect x=\"\(f(left))\" y=\"\(f(y))\" width=\"\(f(max(end - left, 1)))\" height=\"\(f(bar))\" "
                             + "fill=\"\(colors[column.key]!)\"><title>\(escape(row.name)) on \(escape(column.title)): "
                             + "\(BenchFormat.nanoseconds(samples.median)) ns</title></rect>")
                    if samples.maximum > samples.minimum {
                        let mid = y + bar / 2
                        s.append("<line x1=\"\(f(x(samples.minimum)))\" y1=\"\(f(mid))\" x2=\"\(f(x(samples.maximum)))\" y2=\"\(f(mid))\" "
                                 + "stroke=\"#222222\" stroke-width=\"1\"/>")
                    }
                    s.append(text(max(end, x(samples.maximum)) + 4, y + bar - 2, BenchFormat.nanoseconds(samples.median), size: 10))
                } else if let outcome, outcome.status != .unavailable {
                    let what = outcome.status == .failed ? "FAILED" : outcome.status == .unsupported ? "not supported by this build" : ""
                    s.append(text(left + 4, y + bar - 2, "\(column.title): \(what)", size: 10, fill: "#b00020"))
                }
                y += bar + gap
            }
            y += groupGap - gap
        }
        s.append("</svg>")
        return s.joined(separator: "\n") + "\n"
    }

    static func label(_ nanoseconds: Double) -> String {
        switch nanoseconds {
        case ..<1_000: "\(Int(nanoseconds)) ns"
        case ..<1_000_000: "\(Int(nanoseconds / 1_000)) µs"
        case ..<1_000_000_000: "\(Int(nanoseconds / 1_000_000)) ms"
        default: "\(Int(nanoseconds / 1_000_000_000)) s"
        }
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func text(_ x: Double, _ y: Double, _ content: String, size: Int = 11, anchor: String = "start",
                     weight: String = "normal", fill: String = "#222222") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\">\(escape(content))</text>"
    }
}
