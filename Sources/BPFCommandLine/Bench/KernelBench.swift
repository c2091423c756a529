import Foundation
import BPFKit

/// The same objects in the running kernel, through bpftool: `prog loadall`
/// (maps pinned too, so that program arrays keep their slots), `prog run
/// ... repeat N` for the time per run as the kernel measures it, and `prog
/// show --json` for the sizes of its JIT's output. Everything it pins lives
/// in the process's own bpffs (`PrivateBPFFilesystem`, never the shared
/// /sys/fs/bpf) and is removed afterwards.
struct KernelBench {
    static let bpftool: String? = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool", "/usr/local/sbin/bpftool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether bpf() may be used here, or why not.
    static func availability() -> (available: Bool, reason: String) {
        guard bpftool != nil else { return (false, "bpftool is not installed") }
        guard geteuid() == 0 else { return (false, "bpf() needs root (CAP_BPF); not running as root") }
        if case .failure(let failure) = PrivateBPFFilesystem.mountPoint { return (false, failure.description) }
        return (true, "")
    }

    /// Whether the kernel loads and runs a trivial XDP program here (bpf() may
    /// be refused even to root, e.g. in a container), or why not.
    func probe(_ compiler: CCompiler) -> (available: Bool, reason: String) {
        let source = scratch.appendingPathComponent("probe.c")
        let object = scratch.appendingPathComponent("probe.o")
        let probe = BenchCase(name: "probe", source: "probe.c", program: "probe", summary: "", packet: BenchPackets.tcp(frameSize: 64))
        do {
            try "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC(\"xdp\") int probe(struct xdp_md *c) { return XDP_PASS; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
                .write(to: source, atomically: true, encoding: .utf8)
            try Data(try compiler.compile(source.path)).write(to: object)
        } catch {
            return (false, "cannot build the probe program: \(error)")
        }
        let outcome = measure(probe, object: object.path, settings: BenchSettings(samples: 1, sampleNanoseconds: 0, fixedRuns: 1, compileRepeats: 1))
        guard outcome.status == .measured, outcome.result == 2 else {
            return (false, "the kernel refused a trivial XDP program (\(outcome.note ?? "returned \(outcome.result.map(String.init) ?? "nothing")"))")
        }
        return (true, "")
    }

    let scratch: URL
    private static let counter = Counter()

    /// Loads `object`, runs `bench.program` and measures it; the pins are removed before returning.
    func measure(_ bench: BenchCase, object: String, settings: BenchSettings) -> EngineOutcome {
        BenchRounds.measure(setUp(bench, object: object, settings: settings), samples: settings.samples)
    }

    /// Loads and pins `object`, reads the JIT's sizes, checks the first run and
    /// sizes the samples (each one `bpftool prog run ... repeat N`). The pins
    /// stay until the sampler finishes; on a failure they are removed here.
    func setUp(_ bench: BenchCase, object: String, settings: BenchSettings) -> BenchSetup {
        guard let bpftool = Self.bpftool else { return .done(.unavailable("bpftool is not installed")) }
        guard case .success(let root) = PrivateBPFFilesystem.mountPoint else { return .done(.unavailable("no private bpffs")) }
        let base = "\(root)/bench-\(Self.counter.take())"
        let programs = base + "-progs", maps = base + "-maps"
        let unpin = {
            try? FileManager.default.removeItem(atPath: programs)
            try? FileManager.default.removeItem(atPath: maps)
        }
        do {
            try FileManager.default.createDirectory(atPath: maps, withIntermediateDirectories: true)
            let load = try BenchProcess.run(bpftool, ["prog", "loadall", object, programs, "type", "xdp", "pinmaps", maps])
            guard load.status == 0 else {
                unpin()
                let log = load.errors.split(separator: "\n").filter { !$0.hasPrefix("libbpf: Error in bpf_create_map_xattr") }
                return .done(.failed("bpftool prog loadall: " + log.suffix(3).joined(separator: " / ")))
            }
            let pinned = "\(programs)/\(bench.program)"
            var outcome = EngineOutcome(status: .measured)
            if let show = try? BenchProcess.run(bpftool, ["prog", "show", "pinned", pinned, "--json"]),
               let info = try? JSONSerialization.jsonObject(with: Data(show.output.utf8)) as? [String: Any] {
                outcome.codeBytes = info["bytes_jited"] as? Int
                outcome.instructions = (info["bytes_xlated"] as? Int).map { $0 / 8 }
                if (info["jited"] as? Bool) == false { outcome.note = "the kernel did not JIT this program (interpreted)" }
            }
            let packet = scratch.appendingPathComponent("\(bench.name).packet")
            try Data(bench.packet).write(to: packet)

            let first = try run(bpftool, pinned, packet: packet.path, repeat: 1)
            outcome.result = first.result
            let probeRuns = settings.fixedRuns ?? 1_000
            let probe = try run(bpftool, pinned, packet: packet.path, repeat: probeRuns)
            let runs = settings.runs(estimate: max(probe.nanoseconds, 1))
            return .ready(BenchSampler(outcome: outcome, runsPerSample: runs, take: {
                let sample = try run(bpftool, pinned, packet: packet.path, repeat: runs)
                return (sample.nanoseconds, sample.result)
            }, finish: unpin))
        } catch {
            unpin()
            return .done(.failed("\(error)"))
        }
    }

    /// One `bpftool prog run`: the return value and the kernel's mean duration per run.
    private func run(_ bpftool: String, _ pinned: String, packet: String, repeat count: Int) throws -> (result: UInt32, nanoseconds: Double) {
        let run = try BenchProcess.run(bpftool, ["prog", "run", "pinned", pinned, "data_in", packet, "repeat", "\(count)"])
        guard run.status == 0 else { throw BenchError("bpftool prog run: \(run.output) \(run.errors)") }
        guard let result = Self.number(after: "Return value:", in: run.output), let result32 = UInt32(exactly: result) else {
            throw BenchError("bpftool prog run printed no return value: \(run.output)")
        }
        // bpftool prints `duration (average): 123ns` (older versions: `Duration: 123 ns`).
        guard let duration = Self.number(after: "duration (average):", in: run.output) ?? Self.number(after: "Duration:", in: run.output) else {
            throw BenchError("bpftool prog run printed no duration: \(run.output)")
        }
        return (result32, Double(duration))
    }

    /// The decimal number after `label` (case-insensitive), skipping spaces.
    static func number(after label: String, in text: String) -> UInt64? {
        guard let range = text.range(of: label, options: .caseInsensitive) else { return nil }
        let digits = text[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
        return UInt64(digits)
    }

    private final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        func take() -> Int { lock.lock(); defer { lock.unlock() }; next += 1; return next }
    }
}

/// Runs a process to completion.
enum BenchProcess {
    struct Finished {
        let status: Int32
        let output: String
        let errors: String
    }

    static func run(_ path: String, _ arguments: [String]) throws -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes at once so that neither fills up and stalls the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errorData = Data()
        DispatchQueue.global().async(group: group) { errorData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
                        errors: String(decoding: errorData, as: UTF8.self))
    }

    /// The first line a tool prints for `--version`, or nil.
    static func version(_ path: String, _ arguments: [String] = ["--version"]) -> String? {
        guard let run = try? run(path, arguments), run.status == 0 else { return nil }
        return (run.output + run.errors).split(separator: "\n").first.map(String.init)
    }
}
