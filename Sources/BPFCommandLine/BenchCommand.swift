import ArgumentParser
import Foundation
import BPFKit

/// `bpfkit bench`: the benchmark suite of bench/ on every engine, beside the
/// kernel's JIT and native code.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the benchmark suite (bench/*.c) on BPFKit's engines, in the kernel and natively; report ns per run.",
        discussion: """
            Each program is compiled for BPF (clang -O2 -g -target bpf -mcpu=v3) and natively (clang -O2, with \
            bench/native_shim.h) from the same source. It runs on the interpreter and every JIT this host runs \
            natively, in the kernel with `bpftool prog run ... repeat N` where bpf() is permitted, and as the native \
            build. Every engine must return what the interpreter returns: a MISMATCH (or any failure) makes the \
            command fail. Times are never judged. With --output DIR the results go to DIR/performance.json, the \
            chart to DIR/performance.svg, and the tables into DIR/PERFORMANCE.md between its bench markers.
            """)

    @Flag(name: .long, help: "Smoke mode for CI: a few runs per engine, checking results; the times mean little.")
    var quick = false

    @Option(name: .long, help: "Samples per measurement (default: 11, or 3 with --quick).")
    var `repeat`: Int?

    @Option(name: .customLong("sample-ms"), help: "Target length of one sample in milliseconds (runs per sample follow).")
    var sampleMilliseconds: Double = 30

    @Option(name: .long, help: "Write performance.json, performance.svg and the tables of PERFORMANCE.md into this folder.")
    var output: String?

    @Option(name: .long, help: "The suite folder (default: bench/ of this checkout).")
    var suite: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Run only these programs (row names, e.g. fnv1a crc32).")
    var only: [String] = []

    @Option(name: .long, help: "clang for the BPF and native builds (default: the Swift toolchain's).")
    var clang: String?

    @Flag(name: .customLong("no-kernel"), help: "Do not load the programs into the kernel even where bpf() is permitted.")
    var noKernel = false

    @Flag(name: .long, help: ArgumentHelp(
        "Also run the x86-64 JIT with memory checks off (an analysis figure).",
        discussion: "Safe only because every program of the suite is one the kernel's verifier accepts; never the headline figure."))
    var unchecked = false

    @Flag(name: .long, help: "Also run every JIT hardened (constant blinding, as the kernel's bpf_jit_harden), for its cost in time and code size.")
    var harden = false

    @OptionGroup var riscvOptions: RISCVExtensionOptions

    func run() throws {
        try runSelected(target: try riscvOptions.target(applies: EngineCatalog.builtArchitectures.contains(.riscv64)))
    }

    private func runSelected(target: JITTargetOptions) throws {
        let samples = self.repeat ?? (quick ? 3 : 11)
        guard samples >= 1 else { throw fail("--repeat must be at least 1") }
        guard sampleMilliseconds > 0 else { throw fail("--sample-ms must be positive") }
        let settings = BenchSettings(samples: samples, sampleNanoseconds: sampleMilliseconds * 1e6,
                                     fixedRuns: quick ? 5 : nil, compileRepeats: quick ? 1 : 11)
        let folder: URL
        do { folder = try BenchSuite.folder(suite) } catch { throw fail(error.description) }
        var cases = BenchSuite.cases()
        if !only.isEmpty {
            let unknown = only.filter { name in !cases.contains { $0.name == name } }
            guard unknown.isEmpty else {
                throw fail("unknown program \(unknown.joined(separator: ", ")); the suite has \(cases.map(\.name).joined(separator: ", "))")
            }
            cases = cases.filter { only.contains($0.name) }
        }
        let compiler: CCompiler
        do { compiler = try CCompiler(path: clang) } catch { throw fail(error.description) }

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-bench-\(getpid())")
        do { try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true) } catch {
            throw fail("cannot create \(scratch.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }

        let engines = BPFKitEngine.available(unchecked: unchecked, hardened: harden, target: target)
        let kernel = KernelBench(scratch: scratch)
        var kernelState = noKernel ? (available: false, reason: "--no-kernel") : KernelBench.availability()
        if kernelState.available {
            kernelState = kernel.probe(compiler)
        }
        let native = NativeBench(clang: compiler.clang, suite: folder, scratch: scratch)
        var report = BenchReport(
            date: ISO8601DateFormatter().string(from: Date()), mode: quick ? "quick" : "full", samples: samples,
            machine: MachineInfo.current(clang: compiler.clang),
            columns: engines.map { BenchReport.Column(key: $0.key, title: $0.title) }
                + [BenchReport.Column(key: BenchReport.kernelKey, title: "kernel JIT"),
                   BenchReport.Column(key: BenchReport.nativeKey, title: "native")],
            rows: [])
        if !kernelState.available { report.kernelUnavailable = kernelState.reason }
        log("bpfkit bench: \(cases.count) programs on \(engines.map(\.title).joined(separator: ", "))"
            + (kernelState.available ? ", the kernel" : " (kernel: \(kernelState.reason))") + " and native; \(samples) samples each")

        var objects: [String: String] = [:]
        for bench in cases {
            var row = BenchReport.Row(name: bench.name, summary: bench.summary, packetBytes: bench.packet.count, outcomes: [:])
            let object: String
            do {
                if let done = objects[bench.source] {
                    object = done
                } else {
                    let bytes = try compiler.compile(folder.appendingPathComponent(bench.source).path, cpu: "v3")
                    object = scratch.appendingPathComponent(bench.source + ".o").path
                    try Data(bytes).write(to: URL(fileURLWithPath: object))
                    objects[bench.source] = object
                }
            } catch {
                for column in report.columns where column.key != BenchReport.nativeKey {
                    row.outcomes[column.key] = .failed("clang for BPF: \(error)")
                }
                row.outcomes[BenchReport.nativeKey] = native.measure(bench, settings: settings)
                report.rows.append(row)
                continue
            }
            // Every engine is set up first, then sampled in rounds (see `BenchRounds`).
            var setups = engines.map { (key: $0.key, setup: $0.setUp(bench, object: object, settings: settings)) }
            setups.append((key: BenchReport.kernelKey, setup: kernelState.available
                ? kernel.setUp(bench, object: object, settings: settings) : .done(.unavailable(kernelState.reason))))
            setups.append((key: BenchReport.nativeKey, setup: native.setUp(bench, settings: settings)))
            row.outcomes = BenchRounds.measure(setups, samples: settings.samples)
            Self.checkResults(&row, reference: BenchReport.interpreterKey)
            log("  " + report.columns.map { "\($0.title) \(report.timeCell(row.outcomes[$0.key]))" }
                .joined(separator: ", ").replacingOccurrences(of: "  ", with: " ") + "  [\(bench.name)]")
            report.rows.append(row)
        }

        // The interpreter goal is stated for FNV-1a over 1,500 bytes; the
        // hand-written program of examples/ is the figure other interpreters quote.
        let example = folder.deletingLastPathComponent().appendingPathComponent("examples/fnv1a.s")
        if only.isEmpty, FileManager.default.fileExists(atPath: example.path), let interpreter = engines.first {
            let reference = BenchCase(name: "fnv1a.s", source: "", program: "fnv1a", summary: "", packet: BenchPackets.tcp(frameSize: 1_500))
            let outcome = interpreter.measure(reference, object: example.path, settings: settings)
            if outcome.status == .measured { report.interpreterReference = outcome.samples }
        }
        report.machine.loadAfter = MachineInfo.loadAverage()

        print(report.text, terminator: "")
        if let output { try write(report, to: output) }
        if !report.failures.isEmpty {
            throw fail("\(report.failures.count) measurement(s) failed:\n" + report.failures.joined(separator: "\n"))
        }
    }

    /// Marks every engine whose first result differs from the reference's as a MISMATCH.
    static func checkResults(_ row: inout BenchReport.Row, reference key: String) {
        guard let expected = row.outcomes[key]?.result else { return }
        for (engine, outcome) in row.outcomes where engine != key {
            if let result = outcome.result, result != expected, outcome.status != .failed {
                row.outcomes[engine] = .failed("MISMATCH: returned \(result) (0x\(String(result, radix: 16))), "
                                               + "the interpreter \(expected) (0x\(String(expected, radix: 16)))")
            }
        }
    }

    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static let beginMarker = "<!-- bench:begin (written by `bpfkit bench --output`; edit outside the markers) -->"
    static let endMarker = "<!-- bench:end -->"

    /// performance.json, performance.svg, and the results section of PERFORMANCE.md.
    func write(_ report: BenchReport, to folder: String) throws {
        let directory = URL(fileURLWithPath: folder)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: directory.appendingPathComponent("performance.json"))
            try Data(BenchChart.svg(report).utf8).write(to: directory.appendingPathComponent("performance.svg"))
            let document = directory.appendingPathComponent("PERFORMANCE.md")
            let section = Self.beginMarker + "\n" + report.markdown(chart: "performance.svg") + Self.endMarker
            var text = (try? String(contentsOf: document, encoding: .utf8))
                ?? "# Performance\n\nResults of `bpfkit bench` (see `scripts/bench`).\n\n\(Self.beginMarker)\n\(Self.endMarker)\n"
            if let begin = text.range(of: "<!-- bench:begin"), let end = text.range(of: Self.endMarker, range: begin.upperBound..<text.endIndex) {
                text.replaceSubrange(begin.lowerBound..<end.upperBound, with: section)
            } else {
                text += "\n" + section + "\n"
            }
            try Data(text.utf8).write(to: document)
        } catch {
            throw fail("\(folder): cannot write the results: \(error.localizedDescription)")
        }
        log("wrote \(folder)/PERFORMANCE.md, performance.svg and performance.json")
    }
}
