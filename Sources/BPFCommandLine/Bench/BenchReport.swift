import Foundation

/// The machine a run was made on.
struct MachineInfo: Codable, Sendable {
    var cpu: String
    var cores: Int
    var kernel: String
    var swift: String
    var clang: String
    var bpftool: String
    /// /proc/loadavg's one-minute figure before and after the run (other work on the machine adds noise).
    var loadBefore: String
    var loadAfter: String
    /// How bpfkit itself was built: times of a debug build say little.
    var build: String = MachineInfo.buildConfiguration

    #if DEBUG
    static let buildConfiguration = "debug (BPFKit's times are not representative; build with -c release)"
    #else
    static let buildConfiguration = releaseBuild
    #endif
    static let releaseBuild = "release"

    static func current(clang: String?) -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let swift = findOnPath("swift").flatMap { BenchProcess.version($0) } ?? "unknown"
        return MachineInfo(cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount, kernel: "Linux \(kernel)",
                           swift: swift, clang: clang.flatMap { BenchProcess.version($0) } ?? "unknown",
                           bpftool: KernelBench.bpftool.flatMap { BenchProcess.version($0, ["version"]) } ?? "not installed",
                           loadBefore: loadAverage(), loadAfter: "")
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").first.map(String.init) ?? "?"
    }

    static func findOnPath(_ tool: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Everything one `bpfkit bench` run measured, and the tables made from it.
struct BenchReport: Codable, Sendable {
    struct Column: Codable, Sendable {
        let key: String
        let title: String
    }

    struct Row: Codable, Sendable {
        let name: String
        let summary: String
        let packetBytes: Int
        var outcomes: [String: EngineOutcome]
    }

    var date: String
    var mode: String
    var samples: Int
    var machine: MachineInfo
    /// Engine columns in report order: BPFKit's engines, then the kernel, then native.
    var columns: [Column]
    var rows: [Row]
    /// Why the kernel's column is empty, when it is.
    var kernelUnavailable: String?
    /// The interpreter on the hand-written FNV-1a (examples/fnv1a.s, `mem` type) over 1,500 bytes.
    var interpreterReference: Samples?

    static let kernelKey = "kernel", nativeKey = "native", interpreterKey = "interpreter"

    /// The host JIT's column (the one the goals are about), if any.
    var jitKey: String? { columns.first { $0.key.hasPrefix("jit-") && !$0.title.contains("emulated") }?.key }

    func median(_ row: Row, _ key: String) -> Double? {
        guard let outcome = row.outcomes[key], outcome.status == .measured else { return nil }
        return outcome.samples?.median
    }

    func ratio(_ row: Row, _ key: String, to reference: String) -> Double? {
        guard let a = median(row, key), let b = median(row, reference), b > 0 else { return nil }
        return a / b
    }

    /// Geometric mean of `key ÷ reference` over the rows where both were measured, and how many rows that is.
    func geometricMean(_ key: String, to reference: String) -> (value: Double, rows: Int)? {
        let ratios = rows.compactMap { ratio($0, key, to: reference) }
        return BenchMath.geometricMean(ratios).map { ($0, ratios.count) }
    }

    /// Geometric mean of BPFKit's code bytes over the kernel's, per program.
    func codeSizeMean(_ key: String) -> (value: Double, rows: Int)? {
        let ratios = rows.compactMap { row -> Double? in
            guard let ours = row.outcomes[key]?.codeBytes, let theirs = row.outcomes[Self.kernelKey]?.codeBytes, theirs > 0 else { return nil }
            return Double(ours) / Double(theirs)
        }
        return BenchMath.geometricMean(ratios).map { ($0, ratios.count) }
    }

    var failures: [String] {
        rows.flatMap { row in
            columns.compactMap { column in
                guard let outcome = row.outcomes[column.key], outcome.status == .failed else { return nil }
                return "\(row.name) on \(column.title): \(outcome.note ?? "failed")"
            }
        }
    }

    // MARK: Tables

    enum Style { case text, markdown }

    /// The cell of one engine's time: `median (min–max)`, or why there is none.
    func timeCell(_ outcome: EngineOutcome?) -> String {
        guard let outcome else { return "—" }
        switch outcome.status {
        case .measured:
            guard let s = outcome.samples else { return "?" }
            return s.values.count == 1 ? BenchFormat.nanoseconds(s.median)
                : "\(BenchFormat.nanoseconds(s.median)) (\(BenchFormat.nanoseconds(s.minimum))–\(BenchFormat.nanoseconds(s.maximum)))"
        case .compiled: return "code only"
        case .unsupported: return "not supported"
        case .unavailable: return "—"
        case .failed: return "FAILED"
        }
    }

    var timedColumns: [Column] {
        columns.filter { column in !rows.allSatisfy { [.compiled, .unavailable, nil].contains($0.outcomes[column.key]?.status) } }
    }

    func timeTable(_ style: Style) -> String {
        let timed = timedColumns
        var header = ["program", "input"] + timed.map { $0.title }
        let jit = jitKey
        let hasKernel = timed.contains { $0.key == Self.kernelKey }, hasNative = timed.contains { $0.key == Self.nativeKey }
        if let jit, hasKernel { header.append("\(title(jit)) ÷ kernel") }
        if let jit, hasNative { header.append("\(title(jit)) ÷ native") }
        var lines: [[String]] = []
        for row in rows {
            var cells = [row.name, "\(row.packetBytes) B"] + timed.map { timeCell(row.outcomes[$0.key]) }
            if let jit, hasKernel { cells.append(ratio(row, jit, to: Self.kernelKey).map(BenchFormat.ratio) ?? "—") }
            if let jit, hasNative { cells.append(ratio(row, jit, to: Self.nativeKey).map(BenchFormat.ratio) ?? "—") }
            lines.append(cells)
        }
        if let jit, hasKernel || hasNative {
            var cells = ["geometric mean", ""] + timed.map { column -> String in
                guard hasNative, column.key != Self.nativeKey, let mean = geometricMean(column.key, to: Self.nativeKey) else { return "" }
                return "\(BenchFormat.ratio(mean.value))× native"
            }
            if hasKernel { cells.append(geometricMean(jit, to: Self.kernelKey).map { "\(BenchFormat.ratio($0.value)) (\($0.rows))" } ?? "—") }
            if hasNative { cells.append(geometricMean(jit, to: Self.nativeKey).map { "\(BenchFormat.ratio($0.value)) (\($0.rows))" } ?? "—") }
            lines.append(cells)
        }
        return Self.render(header: header, rows: lines, style: style, rightAligned: Set(1..<header.count))
    }

    func codeTable(_ style: Style) -> String {
        let compiled = columns.filter { column in
            column.key != Self.interpreterKey && column.key != Self.nativeKey && rows.contains { $0.outcomes[column.key]?.codeBytes != nil }
        }
        var header = ["program"]
        for column in compiled {
            header += ["\(column.title) insns", "\(column.title) bytes", "bytes/insn"]
        }
        // Emulated backends are not timed: the native instructions one run executed stand in.
        let executedColumns = compiled.filter { column in rows.contains { $0.outcomes[column.key]?.executedInstructions != nil } }
        header += executedColumns.map { "\($0.title) executed insns/run" }
        let compileColumns = columns.filter { column in rows.contains { $0.outcomes[column.key]?.compileNanoseconds != nil } }
        header += compileColumns.map { "\($0.key == Self.interpreterKey ? "pre-decode" : "\($0.title) compile") µs" }
        var lines: [[String]] = []
        for row in rows {
            var cells = [row.name]
            for column in compiled {
                let outcome = row.outcomes[column.key]
                cells.append(outcome?.instructions.map { "\($0)" } ?? "—")
                cells.append(outcome?.codeBytes.map { BenchFormat.grouped($0) } ?? "—")
                cells.append(outcome?.bytesPerInstruction.map { String(format: "%.2f", $0) } ?? "—")
            }
            cells += executedColumns.map { column in
                row.outcomes[column.key]?.executedInstructions.map { BenchFormat.grouped(Int($0)) } ?? "—"
            }
            cells += compileColumns.map { column in row.outcomes[column.key]?.compileNanoseconds.map(BenchFormat.microseconds) ?? "—" }
            lines.append(cells)
        }
        var total = ["geometric mean"]
        for column in compiled {
            let perInstruction = BenchMath.geometricMean(rows.compactMap { $0.outcomes[column.key]?.bytesPerInstruction })
            total += ["", "", perInstruction.map { String(format: "%.2f", $0) } ?? "—"]
        }
        total += executedColumns.map { _ in "" }
        total += compileColumns.map { column in
            BenchMath.geometricMean(rows.compactMap { $0.outcomes[column.key]?.compileNanoseconds }).map(BenchFormat.microseconds) ?? "—"
        }
        lines.append(total)
        return Self.render(header: header, rows: lines, style: style, rightAligned: Set(1..<header.count))
    }

    func title(_ key: String) -> String { columns.first { $0.key == key }?.title ?? key }

    /// Whether times can be held against the goals: a full run of a release
    /// build. A quick run (CI's smoke mode) or a debug build still prints its
    /// figures, but no verdict on a time.
    var judged: Bool { mode == "full" && machine.build == MachineInfo.releaseBuild }

    /// ": met" or ": not met" after a goal, or why it is not judged. Sizes
    /// (`timed: false`) are the same in every run and build and always judged.
    func verdict(_ met: Bool, timed: Bool = true) -> String {
        guard judged || !timed else {
            return mode == "full" ? ", not judged: debug build" : ", not judged: \(mode) run"
        }
        return met ? ": met" : ": not met"
    }

    /// The project's speed goals, each with the figure measured.
    func goals() -> [String] {
        var lines: [String] = []
        if let jit = jitKey {
            if let k = geometricMean(jit, to: Self.kernelKey) {
                lines.append("\(title(jit)) ÷ kernel JIT, geometric mean over \(k.rows) programs: \(BenchFormat.ratio(k.value)) "
                             + "(goal ≤ 1.00\(verdict(k.value <= 1)))")
            }
            if let n = geometricMean(jit, to: Self.nativeKey) {
                lines.append("\(title(jit)) ÷ native, geometric mean over \(n.rows) programs: \(BenchFormat.ratio(n.value)) "
                             + "(goal ≤ 1.50\(verdict(n.value <= 1.5)))")
            }
            if let c = codeSizeMean(jit) {
                lines.append("\(title(jit)) code bytes ÷ kernel JIT code bytes, geometric mean over \(c.rows) programs: "
                             + "\(BenchFormat.ratio(c.value)) (goal ≤ 1.00\(verdict(c.value <= 1, timed: false)))")
            }
        }
        let fnv = rows.first { $0.name == "fnv1a_1500" }.flatMap { median($0, Self.interpreterKey) }
        if let fnv {
            lines.append("interpreter, FNV-1a over 1,500 bytes (the suite's XDP program): \(BenchFormat.microseconds(fnv)) µs "
                         + "(goal < 35 µs\(verdict(fnv < 35_000)))")
        }
        if let reference = interpreterReference {
            lines.append("interpreter, FNV-1a over 1,500 bytes (hand-written examples/fnv1a.s, mem): "
                         + "\(BenchFormat.microseconds(reference.median)) µs (goal < 35 µs\(verdict(reference.median < 35_000)))")
        }
        let unsupported = rows.flatMap { row in
            columns.compactMap { column in
                row.outcomes[column.key]?.status == .unsupported ? "\(row.name) on \(column.title): \(row.outcomes[column.key]?.note ?? "")" : nil
            }
        }
        lines += unsupported.map { "not measured: \($0)" }
        lines += failures.map { "FAILED: \($0)" }
        return lines
    }

    var machineLines: [String] {
        ["CPU: \(machine.cpu), \(machine.cores) cores", "kernel: \(machine.kernel)", "Swift: \(machine.swift)",
         "clang (BPF and native builds): \(machine.clang)", "bpftool: \(machine.bpftool)", "bpfkit build: \(machine.build)",
         "load average (1 min) before / after: \(machine.loadBefore) / \(machine.loadAfter)"]
            + (kernelUnavailable.map { ["kernel JIT not measured: \($0)"] } ?? []) + [
         "\(mode) run of \(date); each time is the median of \(samples) samples (min–max in parentheses), in ns per run"]
    }

    /// The whole report as text for the terminal.
    var text: String {
        (["BPFKit benchmark suite"] + machineLines.map { "  " + $0 } + ["", timeTable(.text), "", codeTable(.text), ""]
         + goals() + [Self.kernelNote]).joined(separator: "\n") + "\n"
    }

    static let kernelNote = "The kernel's figure is `bpftool prog run ... repeat N`'s mean duration, which includes "
        + "BPF_PROG_TEST_RUN's own per-run cost (12–18 ns measured for an XDP program that only returns); "
        + "BPFKit's includes its own (the run context, for code that needs one)."

    /// The results section of docs/PERFORMANCE.md (between the markers).
    func markdown(chart: String) -> String {
        var out: [String] = []
        out.append("Latest run: \(mode), \(date).\n")
        out.append(machineLines.dropLast().map { "- \($0)" }.joined(separator: "\n"))
        out.append("\nTime per run in nanoseconds: the median of \(samples) samples, with the fastest and slowest sample "
                   + "in parentheses. Ratios are of medians; the geometric-mean row gives each engine against native code "
                   + "and the JIT's ratios over the programs both engines ran (count in parentheses).\n")
        out.append(timeTable(.markdown))
        out.append("\n![ns per run, per program and engine (log scale)](\(chart))\n")
        out.append("Code size (native bytes, and bytes per BPF instruction slot of the program each JIT was given: BPFKit's "
                   + "after its loader's rewrites, the kernel's `bytes_xlated / 8`) and compile time:\n")
        out.append(codeTable(.markdown))
        out.append("\nGoals:\n")
        out.append(goals().map { "- \($0)" }.joined(separator: "\n"))
        out.append("\n" + Self.kernelNote)
        return out.joined(separator: "\n") + "\n"
    }

    static func render(header: [String], rows: [[String]], style: Style, rightAligned: Set<Int>) -> String {
        switch style {
        case .markdown:
            let line = { (cells: [String]) in "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
            let rule = "|" + header.indices.map { rightAligned.contains($0) ? " ---: |" : " --- |" }.joined()
            return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
        case .text:
            var widths = header.map { $0.count }
            for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
            func pad(_ cell: String, _ i: Int) -> String {
                let fill = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? fill + cell : cell + fill
            }
            let line = { (cells: [String]) in cells.enumerated().map { pad($0.element, $0.offset) }.joined(separator: "  ") }
            let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
            return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
        }
    }
}
