import Foundation

/// The suite built natively: `clang -O2` for the host from the same source,
/// with bench/native_shim.h standing in for the kernel and
/// bench/native_main.c timing the program (see those files).
struct NativeBench {
    let clang: String
    let suite: URL
    let scratch: URL

    /// Builds the harness for `bench` (once per source and program).
    func build(_ bench: BenchCase) throws -> String {
        let binary = scratch.appendingPathComponent("\(bench.program).native").path
        if FileManager.default.isExecutableFile(atPath: binary) { return binary }
        let arguments = ["-O2", "-Wall", "-I", suite.path, "-DBENCH_ENTRY=\(bench.program)",
                         suite.appendingPathComponent("native_main.c").path, suite.appendingPathComponent(bench.source).path,
                         "-o", binary]
        let build = try BenchProcess.run(clang, arguments)
        guard build.status == 0 else {
            throw BenchError("clang \(arguments.joined(separator: " ")) failed: \(build.errors.suffix(1500))")
        }
        return binary
    }

    func measure(_ bench: BenchCase, settings: BenchSettings) -> EngineOutcome {
        BenchRounds.measure(setUp(bench, settings: settings), samples: settings.samples)
    }

    /// Builds the harness and sizes the samples from a probe; each sample is
    /// one harness process timing `runs` runs (its start-up is not timed).
    func setUp(_ bench: BenchCase, settings: BenchSettings) -> BenchSetup {
        do {
            let binary = try build(bench)
            let packet = scratch.appendingPathComponent("\(bench.name).packet")
            try Data(bench.packet).write(to: packet)
            let probeRuns = settings.fixedRuns ?? 1_000
            let probe = try run(binary, packet: packet.path, runs: probeRuns, samples: 1)
            let runs = settings.runs(estimate: max(probe.samples[0], 0.1))
            return .ready(BenchSampler(outcome: EngineOutcome(status: .measured, result: probe.result), runsPerSample: runs) {
                let sample = try run(binary, packet: packet.path, runs: runs, samples: 1)
                return (sample.samples[0], sample.result)
            })
        } catch {
            return .done(.failed("\(error)"))
        }
    }

    /// Runs the harness: the first run's result and one mean per sample.
    private func run(_ binary: String, packet: String, runs: Int, samples: Int) throws -> (result: UInt32, samples: [Double]) {
        let run = try BenchProcess.run(binary, [packet, "\(runs)", "\(samples)"])
        guard run.status == 0 else { throw BenchError("\(binary) exited with \(run.status): \(run.errors)") }
        var result: UInt32?
        var values: [Double] = []
        for line in run.output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first == "result", fields.count == 2 { result = UInt32(fields[1]) }
            if fields.first == "sample", fields.count >= 2, let value = Double(fields[1]) { values.append(value) }
        }
        guard let result, values.count == samples else { throw BenchError("\(binary) printed no result or too few samples: \(run.output)") }
        return (result, values)
    }
}
