import ArgumentParser
import Foundation
import BPFISA
import BPFKit
import BPFMatrix

/// `bpfkit conformance`: run corpus files and summarise.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run bpf_conformance .data files; prints each failure and 'N passed, M failed'.")

    @Argument(help: ".data files or folders holding them.")
    var paths: [String]

    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var riscvOptions: RISCVExtensionOptions

    @Flag(name: .shortAndLong, help: "Also print passing files.")
    var verbose = false

    @Flag(name: .long, help: "Run the files on every built engine: the interpreter and each JIT (natively or emulated, a big-endian one against the big-endian interpreter), plain and, where the backend supports it, hardened; one 'N passed, M failed' line each.")
    var matrix = false

    @Option(name: .long, help: "With --matrix: how many configurations run at once (default: the processor count).")
    var jobs: Int?

    @Flag(name: .long, help: "With --matrix: the generated suite too (about 20,000 programs per configuration, expected values from the RFC; a big-endian engine against the big-endian interpreter).")
    var generated = false

    @Flag(name: .customLong("tail-calls"), help: "With --matrix: the tail-call corpus too (chains, the 33 limit, empty slots, calls from subprograms, errors in targets), each case against the interpreter and, in little-endian memory, the kernel's outcome.")
    var tailCalls = false

    func run() throws {
        if matrix { return try runMatrix() }
        let (engine, architecture) = try engineOptions.resolve()
        try runFiles(engine, architecture, target: try riscvOptions.target(applies: engine == .jit && architecture == .riscv64))
    }

    private func runFiles(_ engine: EngineKind, _ architecture: Architecture?, target: JITTargetOptions) throws {
        let files: [String]
        do { files = try ConformanceRunner.files(in: paths) } catch { throw fail(error.description) }
        var runner = ConformanceRunner(engine: engine, architecture: architecture, hardened: engineOptions.harden)
        runner.byteOrder = try engineOptions.resolveByteOrder()
        runner.target = target
        var passed = 0, failed = 0, skipped = 0, prepared = 0
        for file in files {
            let (outcome, wasPrepared) = runner.runReporting(path: file)
            if wasPrepared { prepared += 1 }
            switch outcome {
            case .passed:
                passed += 1
                if verbose { print("PASS \(file)") }
            case .failed(let reason):
                failed += 1
                print("FAIL \(file): \(reason)")
            case .skipped(let reason):
                skipped += 1
                print("SKIP \(file): \(reason)")
            }
        }
        // As the kernel's test_bpf says how many programs its JIT took: `[N/M JIT'ed]`.
        let jited = engine == .jit ? " [\(prepared)/\(files.count) JIT'ed]" : ""
        print("\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : "") + jited)
        if failed > 0 || files.isEmpty { throw ExitCode(1) }
    }
}

extension ConformanceCommand {
    /// `--matrix`: every configuration, each failure, then one line per configuration.
    func runMatrix() throws {
        if engineOptions.arch != nil || engineOptions.byteOrder != nil || engineOptions.harden || riscvOptions.riscvExt != nil
            || engineOptions.engine != EngineKind.interpreter.rawValue {
            throw fail("--matrix chooses the engines itself; leave out --engine, --arch, --byte-order, --harden and --riscv-ext")
        }
        let files: [String]
        do { files = try ConformanceRunner.files(in: paths) } catch { throw fail(error.description) }
        if files.isEmpty { throw fail("no .data files under \(paths.joined(separator: ", "))") }
        let (configurations, unsupported) = ConformanceMatrix.configurations()
        let jobs = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        var tallies = ConformanceMatrix.run(files: files, configurations: configurations, jobs: jobs)
        for tally in tallies {
            for failure in tally.failures { print("FAIL \(tally.configuration) \(failure.path): \(failure.reason)") }
        }
        // Each line counts the corpus files and every further column's cases together.
        var columns: [(name: String, tally: @Sendable (ConformanceMatrix.Configuration) -> ColumnTally)] = []
        if generated { columns.append(("generated", { GeneratedSuiteColumn.tally($0) })) }
        if tailCalls { columns.append(("tail-calls", { TailCallColumn.tally($0) })) }
        for column in columns {
            for (index, extra) in ConformanceMatrix.parallel(tallies.map(\.configuration), jobs: jobs, column.tally).enumerated() {
                for failure in extra.failures { print("FAIL \(tallies[index].configuration) \(column.name) \(failure)") }
                tallies[index].passed += extra.passed
                tallies[index].failed += extra.failed
                tallies[index].prepared += extra.prepared
                tallies[index].files += extra.cases
            }
        }
        for tally in tallies { print(tally.line) }
        for (configuration, reason) in unsupported { print("\(configuration): not run (\(reason))") }
        if tallies.contains(where: { !$0.succeeded }) || tallies.count != configurations.count { throw ExitCode(1) }
    }
}

/// `bpfkit conformance-plugin`: the upstream bpf_conformance plugin contract.
///
/// The program arrives on standard input as space-separated hex bytes, the
/// memory as the first argument in hex; r0 is printed in hex. Errors go to
/// standard error with a non-zero exit.
struct ConformancePluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance-plugin",
        abstract: "Act as a bpf_conformance plugin: program hex on stdin, memory hex as argument, prints r0 in hex.")

    @Argument(help: "Input memory as hex.")
    var memory: String = ""

    @OptionGroup var engineOptions: EngineOptions

    func run() throws {
        let (engine, architecture) = try engineOptions.resolve()
        let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let programBytes = try parseHexBytes(input, what: "program on standard input")
        let memoryBytes = try parseHexBytes(memory, what: "memory argument")
        do {
            let program = try Program(bytes: programBytes, name: "stdin")
            try program.validate()
            let loaded = try LoadedProgram(program, engine: engine, architecture: architecture, helpers: ConformanceRunner.helpers,
                                           hardened: engineOptions.harden)
            print(String(try loaded.run(input: memoryBytes).returnValue, radix: 16))
        } catch {
            throw fail("\(error)")
        }
    }
}
