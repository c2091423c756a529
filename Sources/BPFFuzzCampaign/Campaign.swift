import BPFAssembler
import BPFDifferential
import BPFExecMemory
import BPFHelpers
import BPFISA
import BPFInterpreter
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation

/// The program generators a campaign draws from.
enum Generator: String, CaseIterable, Sendable {
    /// `RandomProgram` (defined registers): packet checks, loops, the stack,
    /// a map value, atomics, `bpf_xdp_adjust_head`.
    case random
    /// `ProofAimedProgram`: pointers and numbers meeting at joins and loop
    /// heads, spilled, passed to calls, helpers and tail calls.
    case proof
}

/// One drawn test: the program (and, for the proof-aimed generator, its
/// tail-call target), the packets it runs over.
struct FuzzCase {
    let generator: Generator
    let seed: UInt64
    var main: Program
    var target: Program?
    let packets: [[UInt8]]

    init(generator: Generator, seed: UInt64) {
        self.generator = generator
        self.seed = seed
        switch generator {
        case .random:
            var program = RandomProgram(seed: seed, defined: true)
            main = program.generate()
            target = nil
            var rng = program.rng
            var packets: [[UInt8]] = []
            for _ in 0..<6 {
                var length = Int.random(in: 14...120, using: &rng)
                if !program.checks.isEmpty, Int.random(in: 0..<100, using: &rng) < 70 {
                    length = max(14, program.checks[Int.random(in: 0..<program.checks.count, using: &rng)] + Int.random(in: -1...1, using: &rng))
                }
                packets.append((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            self.packets = packets
        case .proof:
            var program = ProofAimedProgram(seed: seed)
            let pair = program.generate()
            main = pair.main
            target = pair.target
            var rng = program.rng
            packets = (0..<4).map { _ in
                let length = [14, 34, 60, 64, 65, 100, 200][Int.random(in: 0..<7, using: &rng)]
                return (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
        }
    }

    /// The maps both generators' programs refer to, by index: a value array
    /// first, then (proof-aimed) the program array.
    func makeMaps() throws -> [any BPFMap] {
        switch generator {
        case .random:
            return [try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 16, maxEntries: 4))]
        case .proof:
            return [try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 64, maxEntries: 4)),
                    try makeMap(MapDefinition(name: "programs", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2))]
        }
    }

    static let limits = VerifierLimits(maxSteps: 200_000, unrollLimit: 40)
    static let instructionLimit: UInt64 = 200_000

    /// Links `program` over `maps` as `bpfkit run` does (verified, proofs kept).
    func link(_ program: Program, maps: [any BPFMap]) throws -> LinkedProgram {
        try LinkedProgram(program: program, type: ProgramTypes.xdp, maps: maps, options: Self.loadOptions)
    }

    static let loadOptions = LoadOptions(trace: { _ in }, verifierLimits: limits)

    /// Why the verifier refuses the case where pointers may not leak, or nil
    /// when it accepts it: its values (r0, the packet, the map) may then
    /// hold addresses, which differ from engine to engine, and its branches
    /// may follow them.
    func leak(over maps: [any BPFMap]) -> String? {
        LinkedProgram.addressLeak(in: [main] + (target.map { [$0] } ?? []), type: ProgramTypes.xdp, maps: maps,
                                  options: Self.loadOptions)
    }
}

/// A case linked once for both engines: the maps, the program (and the
/// tail-call target) linked and verified over them, and each engine's
/// preparation. The two engines replay the same packets one after the other
/// over these maps, the value map zeroed before each replay, so the
/// verifier and the loader run once per case rather than once per engine
/// (the program array's slots hold targets prepared for both engines, the
/// target in slot 0 and main in slot 1, as the proof-aimed generator
/// expects).
final class SharedCase {
    let maps: [any BPFMap]
    let linked: LinkedProgram
    let linkedTarget: LinkedProgram?

    /// Links (and so verifies) the case's programs; throws the refusal.
    init(_ fuzzCase: FuzzCase) throws {
        let maps = try fuzzCase.makeMaps()
        self.maps = maps
        linked = try fuzzCase.link(fuzzCase.main, maps: maps)
        linkedTarget = try fuzzCase.target.map { try fuzzCase.link($0, maps: maps) }
    }

    deinit { for case let programs as ProgramArray in maps { programs.removeAll() } }

    /// Prepares main on each engine (and the tail-call targets, which every
    /// engine's preparation is added to before any slot is filled: a caller
    /// prepared on an engine needs every filled slot prepared for it too).
    /// The first error names the engine that failed (its index).
    func prepare(on engines: [any ExecutionEngine], byteOrder: ByteOrder,
                 instructionLimit: UInt64 = FuzzCase.instructionLimit) throws(PreparationError) -> [Instance] {
        var target: TailCallTarget?, main: TailCallTarget?
        var instances: [Instance] = []
        let programs = linkedTarget == nil ? nil : maps.last as? ProgramArray
        for (index, engine) in engines.enumerated() {
            do {
                if programs != nil, let linkedTarget {
                    target = try TailCallTargets.make(linkedTarget, engine: engine, adding: target, instructionLimit: instructionLimit)
                    main = try TailCallTargets.make(linked, engine: engine, adding: main, instructionLimit: instructionLimit)
                }
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: instructionLimit))
                instances.append(Instance(shared: self, prepared: prepared, byteOrder: byteOrder))
            } catch {
                throw PreparationError(engine: index, message: "\(error)")
            }
        }
        if let programs, let target, let main {
            do {
                try programs.set(target, at: 0)
                try programs.set(main, at: 1)
            } catch {
                throw PreparationError(engine: engines.count - 1, message: "\(error)")
            }
        }
        return instances
    }

    /// Every value of the value map zeroed, as a new map's are.
    func resetValues() throws {
        let values = maps[0]
        let zero = [UInt8](repeating: 0, count: values.hostValueSize)
        for key in values.keys() { try values.update(key: key, value: zero, flags: .any) }
    }
}

/// Which engine's preparation failed, and why.
struct PreparationError: Error {
    let engine: Int
    let message: String
}

/// One engine's preparation of a shared case.
final class Instance {
    let shared: SharedCase
    let prepared: any PreparedProgram
    /// The order of the engine's memory, in which each run's context is laid out.
    let byteOrder: ByteOrder
    var linked: LinkedProgram { shared.linked }

    init(shared: SharedCase, prepared: any PreparedProgram, byteOrder: ByteOrder) {
        self.shared = shared
        self.prepared = prepared
        self.byteOrder = byteOrder
    }

    /// Runs over `packets` from zeroed map values; the outcomes, then the map.
    func replay(_ packets: [[UInt8]]) throws -> [Outcome] {
        try shared.resetValues()
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(packets.count + 1)
        for packet in packets {
            let run = try linked.makeRun(input: packet, byteOrder: byteOrder)
            let outcome: Outcome = withExtendedLifetime(run) {
                do throws(ExecutionError) {
                    return .value(try prepared.run(run.input), packet: run.output())
                } catch {
                    if case .instructionLimit = error { return .limit }
                    return .error("\(error)")
                }
            }
            outcomes.append(outcome)
            if outcome == .limit { return outcomes }
        }
        outcomes.append(.map(shared.maps[0].entries().flatMap { $0.value }))
        return outcomes
    }
}

/// A JIT backend and the interpreter it is compared with (in the target's
/// byte order).
struct Backend: @unchecked Sendable {
    let architecture: Architecture
    let engine: any ExecutionEngine
    let reference: any ExecutionEngine

    /// Every JIT backend built, for this host (natively or emulated).
    static func all() -> [Backend] {
        Architecture.allCases.compactMap { try? Backend(architecture: $0) }
    }

    init(architecture: Architecture) throws {
        self.architecture = architecture
        engine = try EngineCatalog.engine(.jit, architecture: architecture)
        reference = Interpreter(byteOrder: architecture.byteOrder)
    }
}

/// What comparing one case on one backend found.
enum Verdict {
    /// The verifier refused the program (why): nothing to run.
    case refused(String)
    /// The backend could not prepare it (a feature it lacks), with the reason.
    case unsupported(String)
    /// Both engines ended alike on every run (`runs` of them).
    case agreed(runs: Int)
    /// The program may leak an address (the verifier refuses it where
    /// pointers may not leak, saying why): it ran on both, but is not compared.
    case leaky(runs: Int, why: String)
    /// They differ at run `index` (the map's contents when past the packets).
    case diverged(index: Int, expected: [Outcome], actual: [Outcome])
}

extension Verdict {
    /// The share a verdict counts in: compared (agreed or diverged), leaky, refused, unsupported.
    var kind: String {
        switch self {
        case .agreed, .diverged: "compared"
        case .leaky: "leaky"
        case .refused: "refused"
        case .unsupported: "unsupported"
        }
    }
}

enum Differential {
    static func compare(_ fuzzCase: FuzzCase, on backend: Backend) -> Verdict {
        let order = backend.architecture.byteOrder
        let shared: SharedCase
        do { shared = try SharedCase(fuzzCase) } catch { return .refused("\(error)") }
        // A register read before written holds what each engine left there
        // (the kernel refuses such programs): not comparable.
        if let read = shared.linked.verification.uninitializedRead { return .refused("a register read before written: \(read)") }
        let reference: Instance, instance: Instance
        do throws(PreparationError) {
            let both = try shared.prepare(on: [backend.reference, backend.engine], byteOrder: order)
            (reference, instance) = (both[0], both[1])
        } catch {
            return error.engine == 0 ? .refused(error.message) : .unsupported(error.message)
        }
        let expected: [Outcome], actual: [Outcome]
        do {
            expected = try reference.replay(fuzzCase.packets)
            actual = try instance.replay(fuzzCase.packets)
        } catch {
            return .unsupported("\(error)")
        }
        let runs = expected.count - (expected.last.map { if case .map = $0 { 1 } else { 0 } } ?? 0)
        // Its values, and even its branches (a stack pointer compared with
        // data_end), may follow addresses that differ between engines.
        if let why = fuzzCase.leak(over: shared.maps) { return .leaky(runs: runs, why: why) }
        let slots = fuzzCase.main.count + (fuzzCase.target?.count ?? 0)
        let judgement = DifferentialOracle.judge(expected: expected, actual: actual, limit: FuzzCase.instructionLimit,
                                                 slots: slots) { limit in
            // Both prepared again with the new limit, tail-call targets included, over new maps.
            let again = try SharedCase(fuzzCase)
            let both = try again.prepare(on: [backend.reference, backend.engine], byteOrder: order, instructionLimit: limit)
            return (try both[0].replay(fuzzCase.packets), try both[1].replay(fuzzCase.packets))
        }
        switch judgement {
        case .agreed: return .agreed(runs: runs)
        case .diverged(let index, let expected, let actual): return .diverged(index: index, expected: expected, actual: actual)
        }
    }

    /// The case reduced while it still diverges on `backend` (main first,
    /// then the tail-call target).
    static func reduce(_ fuzzCase: FuzzCase, on backend: Backend) -> FuzzCase {
        func diverges(_ candidate: FuzzCase) -> Bool {
            if case .diverged = compare(candidate, on: backend) { return true }
            return false
        }
        var reduced = fuzzCase
        reduced.main = Reducer.reduce(fuzzCase.main) { program in
            var candidate = reduced
            candidate.main = program
            return diverges(candidate)
        }
        if let target = reduced.target {
            reduced.target = Reducer.reduce(target) { program in
                var candidate = reduced
                candidate.target = program
                return diverges(candidate)
            }
        }
        return reduced
    }
}
