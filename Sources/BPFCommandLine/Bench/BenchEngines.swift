import Foundation
import BPFEmulator
import BPFJIT
import BPFJITArm64
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFRuntime

/// What one engine did with one program of the suite.
struct EngineOutcome: Codable, Sendable {
    enum Status: String, Codable, Sendable {
        /// Ran, timed, and returned what the interpreter returned.
        case measured
        /// Compiled and run once under the emulator, not timed: code size and
        /// native instructions executed.
        case compiled
        /// This engine cannot run the program in this build (e.g. tail calls not landed).
        case unsupported
        /// The engine is not available here (no bpf(), no clang for the host).
        case unavailable
        /// Loading, compiling or running failed, or the result differs: an error of the run.
        case failed
    }

    var status: Status
    /// Why it is not measured, or what to know about the figure.
    var note: String?
    /// The first run's return value as the kernel reports it (the low 32 bits of r0).
    var result: UInt32?
    /// Nanoseconds per run.
    var samples: Samples?
    /// Median time to compile (JITs) or pre-decode (interpreter) the program.
    var compileNanoseconds: Double?
    /// Bytes of native code.
    var codeBytes: Int?
    /// BPF instruction slots the native code was made from.
    var instructions: Int?
    /// Emulated backends: native instructions one run executed (helpers not included).
    var executedInstructions: UInt64?

    static func failed(_ note: String) -> EngineOutcome { EngineOutcome(status: .failed, note: note) }
    static func unsupported(_ note: String) -> EngineOutcome { EngineOutcome(status: .unsupported, note: note) }
    static func unavailable(_ note: String) -> EngineOutcome { EngineOutcome(status: .unavailable, note: note) }

    var bytesPerInstruction: Double? {
        guard let codeBytes, let instructions, instructions > 0 else { return nil }
        return Double(codeBytes) / Double(instructions)
    }
}

/// How long and how often to measure.
struct BenchSettings: Sendable {
    /// Samples per measurement (the median and spread are over these).
    var samples: Int
    /// Target duration of one sample; runs per sample follow from a first estimate.
    var sampleNanoseconds: Double
    /// Fixed runs per sample instead (quick mode).
    var fixedRuns: Int?
    /// Compilations timed for the compile-time median.
    var compileRepeats: Int

    func runs(estimate: Double) -> Int {
        fixedRuns ?? BenchMath.runs(toFill: sampleNanoseconds, estimate: estimate)
    }
}

/// A BPFKit engine the suite runs on: the interpreter, the host's JIT
/// (timed), or a JIT for another architecture under the emulator (code size).
struct BPFKitEngine: Sendable {
    let key: String
    let title: String
    let kind: EngineKind
    let architecture: Architecture?
    /// Runs under the CPU emulator: report code size, not time.
    let emulated: Bool
    /// The host's x86-64 JIT with memory checks off (an analysis figure: safe
    /// only for programs a verifier accepted, as the kernel accepts the suite).
    var unchecked = false
    /// The JIT with constant blinding (`EngineConfiguration.hardened`).
    var hardened = false
    /// What the JIT's code may use beyond its base instruction set (`--riscv-ext`).
    var target = JITTargetOptions()

    /// Every engine the catalog offers here, the unchecked x86-64 JIT if
    /// asked for, and with `hardened` each JIT once more with constant blinding.
    static func available(unchecked: Bool = false, hardened: Bool = false,
                          target: JITTargetOptions = JITTargetOptions()) -> [BPFKitEngine] {
        let engines = available(unchecked: unchecked, target: target)
        guard hardened else { return engines }
        return engines.flatMap { engine -> [BPFKitEngine] in
            guard engine.kind == .jit, !engine.unchecked else { return [engine] }
            return [engine, BPFKitEngine(key: engine.key + "-hardened", title: engine.title + " hardened", kind: .jit,
                                         architecture: engine.architecture, emulated: engine.emulated, hardened: true,
                                         target: engine.target)]
        }
    }

    static func available(unchecked: Bool, target: JITTargetOptions) -> [BPFKitEngine] {
        var engines = [BPFKitEngine(key: "interpreter", title: "interpreter", kind: .interpreter, architecture: nil, emulated: false)]
        if let host = Architecture.host, (try? EngineCatalog.engine(.jit, architecture: host)) != nil {
            engines.append(BPFKitEngine(key: "jit-\(host.rawValue)", title: "\(host.rawValue) JIT", kind: .jit,
                                        architecture: host, emulated: false))
        }
        if unchecked, Architecture.host == .x86_64 {
            engines.append(BPFKitEngine(key: "jit-x86_64-unchecked", title: "x86_64 JIT unchecked", kind: .jit,
                                        architecture: .x86_64, emulated: false, unchecked: true))
        }
        for architecture in EngineCatalog.builtArchitectures where architecture != Architecture.host {
            if (try? EngineCatalog.engine(.jit, architecture: architecture)) != nil {
                // With --riscv-ext the riscv64 row says which extensions its code uses.
                let extensions = architecture == .riscv64 && !target.extensions.isEmpty
                    ? " +" + target.extensions.joined(separator: ",") : ""
                engines.append(BPFKitEngine(key: "jit-\(architecture.rawValue)", title: "\(architecture.rawValue)\(extensions) JIT (emulated)",
                                            kind: .jit, architecture: architecture, emulated: true, target: target))
            }
        }
        return engines
    }

    /// Loads `object`, prepares its program for this engine (filling program
    /// arrays with this engine's programs), checks the first run and times
    /// batches of runs over one run input per batch.
    func measure(_ bench: BenchCase, object: String, settings: BenchSettings) -> EngineOutcome {
        BenchRounds.measure(setUp(bench, object: object, settings: settings), samples: settings.samples)
    }

    /// Everything before the timed samples: load, compile (timed), the first
    /// run (its result is what every engine must return) and an estimate
    /// that sizes the samples.
    func setUp(_ bench: BenchCase, object: String, settings: BenchSettings) -> BenchSetup {
        let file: ProgramFile
        let engine: any ExecutionEngine
        do {
            file = try ProgramFile.load(path: object, LoadRequest(programName: bench.program, trace: { _ in }))
            engine = unchecked ? X86_64JIT(options: JITOptions(memoryChecking: .unchecked, instructionSelection: .environment))
                               : try EngineCatalog.engine(kind, architecture: architecture, target: target)
        } catch {
            return .done(.failed("load: \(error)"))
        }
        let linked = file.linked
        var outcome = EngineOutcome(status: .measured, instructions: linked.program.instructions.count)

        // Compile time: the median of several preparations of the same program.
        var prepared: (any PreparedProgram)?
        var compileTimes: [Double] = []
        do {
            // The program arrays first: an engine that runs tail calls fills them with its own programs.
            if engine.tailCallEngine != nil { try file.object?.populateProgramArrays(for: engine, hardened: hardened) }
            for _ in 0..<max(settings.compileRepeats, 1) {
                let start = BenchMath.now()
                prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(hardened: hardened))
                compileTimes.append(Double(BenchMath.now() - start))
            }
        } catch {
            return .done(.failed("prepare: \(error)"))
        }
        outcome.compileNanoseconds = Samples(compileTimes, runsPerSample: 1).median
        guard let program = prepared else { return .done(.failed("prepare: no program")) }
        if let native = program as? NativeProgram { outcome.codeBytes = native.image.size }
        if emulated {
            if let architecture, let image = try? EngineCatalog.jitImage(linked.program, architecture: architecture,
                                                                                  configuration: linked.engineConfiguration(hardened: hardened),
                                                                                  target: target) {
                outcome.codeBytes = image.size
            }
            outcome.status = .compiled
            guard let emulatedProgram = program as? any EmulatedJITProgram else {
                outcome.note = "emulated: code size only"
                return .done(outcome)
            }
            // The suite is compiled little-endian (bpfel): a big-endian machine
            // reads its packet words in the other order and computes something
            // else by design, which the interpreter's result cannot judge.
            guard (architecture?.byteOrder ?? .host) == .host else {
                outcome.note = "emulated, big-endian: code size only (the suite is compiled little-endian)"
                return .done(outcome)
            }
            // One run under the emulator: its result (checked against the
            // interpreter's like every engine's) and the instructions it executed.
            do {
                let run = try linked.makeRun(input: bench.packet, byteOrder: architecture?.byteOrder)
                let executed = try withExtendedLifetime(run) { try emulatedProgram.execute(run.input) }
                outcome.result = UInt32(truncatingIfNeeded: executed.value)
                outcome.executedInstructions = executed.instructionCount
                outcome.note = "emulated: code size and executed instructions"
            } catch {
                return .done(.failed("emulated run: \(error)"))
            }
            return .done(outcome)
        }

        do {
            // The run's memory must outlive every run over its input (which holds raw addresses).
            let firstRun = try linked.makeRun(input: bench.packet)
            let (first, estimate) = try withExtendedLifetime(firstRun) { () throws -> (UInt64, Double) in
                let first = try program.run(firstRun.input)
                let probe = settings.fixedRuns ?? 3
                let start = BenchMath.now()
                for _ in 0..<probe { _ = try program.run(firstRun.input) }
                return (first, Double(BenchMath.now() - start) / Double(probe))
            }
            outcome.result = UInt32(truncatingIfNeeded: first)
            // Samples of `runs` runs each, over one run input per sample.
            let runs = settings.runs(estimate: estimate)
            return .ready(BenchSampler(outcome: outcome, runsPerSample: runs) {
                let batch = try linked.makeRun(input: bench.packet)
                return try withExtendedLifetime(batch) { () throws -> (Double, UInt32) in
                    let input = batch.input
                    var last: UInt64 = 0
                    let begin = BenchMath.now()
                    for _ in 0..<runs { last = try program.run(input) }
                    return (Double(BenchMath.now() - begin) / Double(runs), UInt32(truncatingIfNeeded: last))
                }
            })
        } catch ExecutionError.helperFailed(_, id: 12, let message) {
            // Compiled (its size and compile time stand), but it cannot run here.
            outcome.status = .unsupported
            outcome.note = "bpf_tail_call is not supported by this build (\(message))"
            outcome.result = nil
            return .done(outcome)
        } catch {
            return .done(.failed("run: \(error)"))
        }
    }
}
