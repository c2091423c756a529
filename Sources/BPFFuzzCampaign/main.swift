import ArgumentParser
import BPFAssembler
import BPFDifferential
import BPFExecMemory
import BPFKit
import Foundation

/// `bpfkit-fuzz`: the differential campaign on every built JIT backend,
/// native and emulated, against the interpreter (see docs/RELIABILITY.md).
/// `scripts/fuzz` builds and runs it.
struct FuzzCampaign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpfkit-fuzz",
        abstract: "Random verified programs on every JIT backend, compared with the interpreter.",
        discussion: """
            Each backend gets an equal share of the time and starts from the same seed. Programs \
            come from the random generator (packet checks, loops, the stack, a map, atomics) and \
            the proof-aimed one (pointers and numbers meeting at joins, calls, helpers, tail calls). \
            Every run's r0 or error, output packet and the map afterwards must match. Each \
            divergence is reduced and written as a reproducer; the exit status is 1 if there is any.
            """)

    @Argument(help: "Wall-time budget in seconds, shared by the backends.")
    var seconds: Double = 60

    @Option(name: .customLong("backend"), help: "A backend to fuzz (repeatable): \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")); default: every one built.")
    var backends: [String] = []

    @Option(help: "The first seed (program k uses seed + k); default: random, printed.")
    var seed: UInt64?

    @Option(help: "At most this many seeds per backend (each runs every generator).")
    var count: UInt64?

    @Option(help: "This process's share of the seeds, J/N (0 <= J < N): seeds first + J, first + J + N, ... (scripts/fuzz --jobs N runs N shards).")
    var shard: String = "0/1"

    @Option(help: "Generators: random, proof or all.")
    var generator: String = "all"

    @Option(help: "Where reproducers are written, and (while the campaign runs) current-J-of-N, the case shard J is running, which scripts/fuzz prints when the process dies by a signal.")
    var out: String = "fuzz-findings"

    @Flag(help: "At the end, the shares per generator and the verifier's reasons for refusing (and, where pointers may not leak, for leaking), most frequent first (numbers elided).")
    var refusals = false

    @Flag(help: "Print each program drawn (to look at one seed: --seed S --count 1 --print).")
    var print = false

    @Flag(help: "Write divergences unreduced.")
    var noReduce = false

    @Flag(help: "After each case, unmap the host JIT program pack's spare chunk, so that the next case maps, trap-fills and inspects a new one, as a pack without spares does (to measure what the spare saves).")
    var releaseSpareChunks = false

    mutating func run() throws {
        let chosen: [Backend]
        if backends.isEmpty {
            chosen = Backend.all()
        } else {
            chosen = try backends.map { name in
                guard let architecture = Architecture(rawValue: name) else {
                    throw ValidationError("unknown backend '\(name)'; known: \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                do { return try Backend(architecture: architecture) } catch {
                    throw ValidationError("backend \(name): \(error)")
                }
            }
        }
        let generators: [Generator]
        if generator == "all" { generators = Generator.allCases } else {
            guard let one = Generator(rawValue: generator) else { throw ValidationError("unknown generator '\(generator)'; known: random, proof, all") }
            generators = [one]
        }
        let shardParts = shard.split(separator: "/").compactMap { UInt64($0) }
        guard shardParts.count == 2, shardParts[1] > 0, shardParts[0] < shardParts[1] else {
            throw ValidationError("--shard takes J/N with 0 <= J < N, not '\(shard)'")
        }
        let (offset, stride) = (shardParts[0], shardParts[1])
        let first = seed ?? UInt64.random(in: 0...(1 << 48))
        say("bpfkit-fuzz: seed \(first)\(stride > 1 ? " shard \(offset)/\(stride)" : ""), \(Int(seconds)) s over \(chosen.map { "\($0.architecture)" }.joined(separator: ", ")); generators \(generators.map(\.rawValue).joined(separator: ", "))")
        var totalPrograms = 0, totalRuns = 0, totalDivergences = 0
        let inFlight = try InFlightCase(directory: out, shard: offset, of: stride)
        defer { inFlight.remove() }
        let share = seconds / Double(max(chosen.count, 1))
        for backend in chosen {
            var programs = 0, runs = 0, refused = 0, unsupported = 0, divergences = 0, leaky = 0
            var firstUnsupported: String?
            var reasons: [String: (Int, String)] = [:]
            var shares: [Generator: [String: Int]] = [:]
            func note(_ reason: String, _ why: String, _ fuzzCase: FuzzCase) {
                let elided = String(why.map { $0.isNumber ? "#" : $0 }).replacing(/#+/, with: "#")
                reasons[reason + elided, default: (0, "seed \(fuzzCase.seed) (\(fuzzCase.generator)): \(why)")].0 += 1
            }
            let start = ContinuousClock.now
            let deadline = start + .milliseconds(Int64(share * 1000))
            var lastReport = start
            var k: UInt64 = 0
            while k < (count ?? .max) && ContinuousClock.now < deadline {
                for generator in generators {
                    let fuzzCase = FuzzCase(generator: generator, seed: first &+ offset &+ k &* stride)
                    if print {
                        say("# seed \(fuzzCase.seed) (\(generator)): main")
                        say(Disassembler.disassemble(fuzzCase.main, style: .llvm))
                        if let target = fuzzCase.target { say("# target"); say(Disassembler.disassemble(target, style: .llvm)) }
                    }
                    inFlight.record(seed: fuzzCase.seed, generator: generator, backend: backend.architecture)
                    let verdict = Differential.compare(fuzzCase, on: backend)
                    if refusals { shares[generator, default: [:]][verdict.kind, default: 0] += 1 }
                    switch verdict {
                    case .refused(let why):
                        refused += 1
                        if refusals { note("refused ", why, fuzzCase) }
                    case .unsupported(let why):
                        unsupported += 1
                        if firstUnsupported == nil { firstUnsupported = "seed \(fuzzCase.seed) (\(generator)): \(why)" }
                    case .agreed(let n):
                        programs += 1
                        runs += n
                    case .leaky(let n, let why):
                        if refusals { note("may leak (refused where pointers may not leak) ", why, fuzzCase) }
                        leaky += 1
                        runs += n
                    case .diverged(let index, let expected, let actual):
                        programs += 1
                        runs += fuzzCase.packets.count
                        divergences += 1
                        let path = try record(fuzzCase, backend: backend, index: index, expected: expected, actual: actual)
                        say("\(backend.architecture): DIVERGENCE, seed \(fuzzCase.seed) (\(generator)): reproducer \(path)")
                    }
                }
                k += 1
                if releaseSpareChunks { ProgramPack.jit.releaseSpareChunks() }
                if ContinuousClock.now - lastReport > .seconds(10) {
                    lastReport = ContinuousClock.now
                    say("  \(backend.architecture): \(programs) programs, \(runs) runs, \(divergences) divergences…")
                }
            }
            let elapsed = ContinuousClock.now - start
            let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let seeds = stride > 1 ? "seeds \(first &+ offset) + \(stride)·i, i < \(k)" : "seeds \(first)..<+\(k)"
            say("\(backend.architecture): \(seeds): \(programs) programs compared (besides: \(leaky) that may leak addresses, run but not compared; \(refused) refused by the verifier; \(unsupported) the backend could not prepare), \(runs) runs, \(divergences) divergences in \(String(format: "%.0f", secondsTaken)) s")
            if let firstUnsupported { say("  first not prepared: \(firstUnsupported)") }
            for generator in generators {
                guard let counts = shares[generator] else { continue }
                let drawn = counts.values.reduce(0, +)
                say("  \(generator): \(drawn) drawn: " + ["compared", "leaky", "refused", "unsupported"].map { kind in
                    "\(counts[kind] ?? 0) \(kind) (\(String(format: "%.1f", 100 * Double(counts[kind] ?? 0) / Double(max(drawn, 1))))%)"
                }.joined(separator: ", "))
            }
            for (reason, (n, first)) in reasons.sorted(by: { $0.value.0 > $1.value.0 }) { say("  \(n)× \(reason)\n    first: \(first)") }
            totalPrograms += programs
            totalRuns += runs
            totalDivergences += divergences
        }
        say("\(totalPrograms) programs, \(totalRuns) runs, \(totalDivergences) divergences")
        if totalDivergences > 0 { throw ExitCode(1) }
    }

    /// Reduces the case (unless told not to) and writes it with both
    /// engines' outcomes; returns the file's path.
    func record(_ fuzzCase: FuzzCase, backend: Backend, index: Int, expected: [Outcome], actual: [Outcome]) throws -> String {
        let reduced = noReduce ? fuzzCase : Differential.reduce(fuzzCase, on: backend)
        var lines = [
            "# bpfkit-fuzz divergence: the \(backend.architecture) JIT and the interpreter",
            "# generator \(fuzzCase.generator), seed \(fuzzCase.seed)",
            "# replay: scripts/fuzz --backend \(backend.architecture.rawValue) --generator \(fuzzCase.generator) --seed \(fuzzCase.seed) --count 1",
            "# first difference: \(index < fuzzCase.packets.count ? "run \(index)" : "the map after the runs")",
        ]
        for (k, (e, a)) in zip(expected, actual).enumerated() {
            lines.append("#   \(k): interpreter \(e)")
            lines.append("#   \(k): \(backend.architecture) \(a)")
        }
        lines.append("# packets (hex):")
        for packet in fuzzCase.packets { lines.append("#   " + packet.map { String(format: "%02x", $0) }.joined()) }
        let note = reduced.main == fuzzCase.main && reduced.target == fuzzCase.target ? "" : " (reduced: still diverges)"
        lines.append("# main\(note), \(reduced.main.instructions.count) of \(fuzzCase.main.instructions.count) slots:")
        lines.append(Disassembler.disassemble(reduced.main, style: .llvm))
        if let target = reduced.target {
            lines.append("# tail-call target (program array slot 0; main is slot 1):")
            lines.append(Disassembler.disassemble(target, style: .llvm))
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = "\(out)/\(backend.architecture.rawValue)-\(fuzzCase.generator)-\(fuzzCase.seed).txt"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

FuzzCampaign.main()

/// The case this process is running, in `DIRECTORY/current-J-of-N`
/// (shard J of N), rewritten in place before every program: when the
/// process dies by a signal (a crash in an engine, in the emulator), the file
/// still names the seed, the generator and the backend, and scripts/fuzz
/// prints them with the command that replays the case. The line is padded
/// to a fixed width, so one positioned write replaces it (a few
/// microseconds, against milliseconds per case). Removed at a normal end.
final class InFlightCase {
    let path: String
    let handle: FileHandle
    static let width = 200

    init(directory: String, shard: UInt64, of shards: UInt64) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = "\(directory)/current-\(shard)-of-\(shards)"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write \(path)")
        }
        self.handle = handle
    }

    func record(seed: UInt64, generator: Generator, backend: Architecture) {
        var line = "seed \(seed) generator \(generator) backend \(backend.rawValue)\n"
            + "replay: scripts/fuzz --backend \(backend.rawValue) --generator \(generator) --seed \(seed) --count 1"
        line += String(repeating: " ", count: max(0, Self.width - 1 - line.utf8.count)) + "\n"
        try? handle.seek(toOffset: 0)
        try? handle.write(contentsOf: Data(line.utf8))
    }

    func remove() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Prints a line and flushes it, so progress shows as it happens, also into a file or pipe.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
