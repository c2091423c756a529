import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFVerifier
import Foundation
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let corpusDirectory = repository.appendingPathComponent("Tests/Fixtures/adversarial")
/// clang and the libbpf headers build the corpus's C programs.
let clangAvailable = FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")

/// The instruction budget of every corpus run: small enough that a runaway
/// loop ends in milliseconds on the interpreter, large enough for every
/// program that ends.
let corpusInstructionLimit: UInt64 = 1_000_000

/// One attack program of Tests/Fixtures/adversarial and what its file says
/// about it (`// @` lines in C, `# @` lines in assembly; see adversarial.h).
struct CorpusEntry: Sendable, CustomStringConvertible {
    let file: String
    let path: String
    let attackClass: String
    let inputs: [[UInt8]]
    let runs: Int
    /// Maps (by name, or a global-data section such as `.rodata`) no run may change.
    let readonly: [String]
    /// Results no engine may return.
    let forbiddenResults: [UInt64]
    /// The program may hand the host an address: values are not compared.
    let leak: Bool
    let cpu: String
    let maxVerifySeconds: Double
    /// The load must be refused (the verifier's error must name `refusedWith`, when given).
    let mustBeRefused: Bool
    let refusedWith: String?
    /// The program type (`@type`; default: the section's, xdp for assembly).
    let type: String?
    /// Input lengths over the program's maximum (`@over-maximum`, for
    /// program types whose r2 is the input's length): the program's own
    /// `makeRun` must refuse each, and every engine, given a run built for a
    /// wider type, must refuse it at its own entry.
    let overMaximum: [Int]

    var description: String { file }
    var isAssembly: Bool { file.hasSuffix(".s") }

    /// A packet of `SIZE[:HEX]`: a fixed pattern, its first bytes replaced by HEX.
    static func packet(_ spec: Substring) -> [UInt8] {
        let parts = spec.split(separator: ":")
        let size = Int(parts[0]) ?? 64
        var bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        if parts.count > 1 {
            let hex = Array(parts[1])
            for k in stride(from: 0, to: hex.count - 1, by: 2) where k / 2 < size {
                bytes[k / 2] = UInt8(String(hex[k...k + 1]), radix: 16) ?? 0
            }
        }
        return bytes
    }

    init(path: String) throws {
        self.path = path
        file = (path as NSString).lastPathComponent
        var attackClass = "unclassified", inputs: [[UInt8]] = [], runs = 1, readonly: [String] = []
        var forbidden: [UInt64] = [], leak = false, cpu = "v3", seconds = 5.0, type: String? = nil
        var mustBeRefused = false, refusedWith: String?, overMaximum: [Int] = []
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("// @") || text.hasPrefix("# @") else { continue }
            let words = text.drop { $0 != "@" }.dropFirst().split(separator: " ")
            guard let key = words.first else { continue }
            let values = words.dropFirst()
            switch key {
            case "class": attackClass = values.joined(separator: " ")
            case "inputs": inputs += values.map(Self.packet)
            case "runs": runs = Int(values.first ?? "1") ?? 1
            case "readonly": readonly += values.map(String.init)
            case "forbid-r0": forbidden += values.compactMap { UInt64($0.dropFirst(2), radix: 16) }
            case "leak": leak = true
            case "cpu": cpu = String(values.first ?? "v3")
            case "max-verify-seconds": seconds = Double(values.first ?? "5") ?? 5
            case "type": type = values.first.map(String.init)
            case "over-maximum": overMaximum += values.compactMap { Int($0) }
            case "refused":
                mustBeRefused = true
                refusedWith = values.isEmpty ? nil : values.joined(separator: " ")
            default: Issue.record("\(path): unknown directive @\(key)")
            }
        }
        self.attackClass = attackClass
        self.inputs = inputs.isEmpty ? [Self.packet("64")] : inputs
        self.runs = runs
        self.readonly = readonly
        self.forbiddenResults = forbidden
        self.leak = leak
        self.cpu = cpu
        self.maxVerifySeconds = seconds
        self.mustBeRefused = mustBeRefused
        self.refusedWith = refusedWith
        self.type = type
        self.overMaximum = overMaximum
    }

    /// Every entry, in file-name order. `ADVERSARIAL_ENTRIES=a,b` keeps the
    /// entries whose file name contains one of the words; `ADVERSARIAL_SKIP`
    /// leaves such entries out (to replay one entry, or to run the rest of
    /// the corpus past one that crashes the process on a broken build).
    static let all: [CorpusEntry] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path)) ?? []
        let environment = ProcessInfo.processInfo.environment
        let only = environment["ADVERSARIAL_ENTRIES"].map { $0.split(separator: ",").map(String.init) }
        let skip = environment["ADVERSARIAL_SKIP"].map { $0.split(separator: ",").map(String.init) } ?? []
        return names.filter { $0.hasSuffix(".c") || $0.hasSuffix(".s") }.sorted()
            .filter { name in only.map { $0.contains { name.contains($0) } } ?? true }
            .filter { name in !skip.contains { name.contains($0) } }
            .compactMap { name in
                do { return try CorpusEntry(path: corpusDirectory.appendingPathComponent(name).path) } catch {
                    Issue.record("\(name): \(error)")
                    return nil
                }
            }
    }()
}

/// The engines an entry runs on. The reference is the interpreter as
/// `bpfkit run` prepares it (stack zeroed at entry, every access checked).
enum Side: String, CaseIterable, CustomStringConvertible {
    case reference = "interpreter"
    /// The interpreter on a stack filled with a pattern: a program proven to
    /// read only stack it wrote must end exactly as on the zeroed stack.
    case filledInterpreter = "interpreter (filled stack)"
    /// The x86-64 JIT with the verifier's proofs, run on a machine stack
    /// filled with a pattern (`HostStack`).
    case x86_64 = "x86-64 JIT"
    /// The arm64 JIT with proofs, natively on arm64 hosts, else emulated.
    case arm64 = "arm64 JIT"

    var description: String { rawValue }

    func engine() -> any ExecutionEngine {
        switch self {
        case .reference: Interpreter()
        case .filledInterpreter: Interpreter(stackFill: .garbage(seed: 0xA7A7_5A5A_1234_8765))
        case .x86_64: X86_64JIT()
        case .arm64: Arm64JIT()
        }
    }

    /// The sides of this process: the emulator runs in a process of its own.
    static var native: [Side] {
        #if arch(x86_64)
        [.filledInterpreter, .x86_64]
        #elseif arch(arm64)
        [.filledInterpreter, .arm64]
        #else
        [.filledInterpreter]
        #endif
    }
}

/// How one run ended, as the contract compares it.
enum Outcome: Equatable, CustomStringConvertible {
    case value(UInt64, packet: [UInt8])
    case error(String)

    init(_ result: Result<UInt64, ExecutionError>, packet: [UInt8]) {
        switch result {
        case .success(let r0): self = .value(r0, packet: packet)
        case .failure(let error): self = .error(Self.kind(error))
        }
    }

    /// The error's kind and pc (addresses differ from engine to engine).
    static func kind(_ error: ExecutionError) -> String {
        switch error {
        case .outOfBounds(let pc, _, let size, let write): "out of bounds at \(pc) (\(size) bytes, \(write ? "write" : "read"))"
        case .instructionLimit: "instruction limit"
        case .callDepthExceeded(let pc, _): "call depth at \(pc)"
        case .helperFailed(let pc, let id, _): "helper \(id) failed at \(pc)"
        case .unsupported(let pc, _): "unsupported at \(pc)"
        default: "\(error)"
        }
    }

    var isError: Bool { if case .error = self { true } else { false } }
    var r0: UInt64? { if case .value(let r0, _) = self { r0 } else { nil } }

    /// The contract: the same r0 and packet, or an error on both (where the
    /// run stops may differ: the JITs charge the runaway guard per backward
    /// jump). With `leak`, values may be addresses and are not compared.
    func agrees(with reference: Outcome, leak: Bool) -> Bool {
        switch (self, reference) {
        case (.error, .error): true
        case (.value, .value): leak || self == reference
        default: false
        }
    }

    var description: String {
        switch self {
        case .value(let r0, let packet):
            "r0 = 0x\(String(r0, radix: 16)), packet \(packet.prefix(24).map { String(format: "%02x", $0) }.joined())\(packet.count > 24 ? "… (\(packet.count) bytes)" : "")"
        case .error(let kind): "error: \(kind)"
        }
    }
}

/// An entry compiled once: the object's bytes (each engine loads its own
/// copy, with maps of its own) or, for assembly, the linked program.
struct CompiledEntry {
    let entry: CorpusEntry
    let objectBytes: [UInt8]?
    /// Assembly: the program linked (as `@type`, default XDP), or the load error.
    let standalone: Result<LinkedProgram, any Error>?

    init(_ entry: CorpusEntry) throws {
        self.entry = entry
        if entry.isAssembly {
            objectBytes = nil
            standalone = Result { try ProgramFile.load(path: entry.path, LoadRequest(type: entry.type ?? "xdp", trace: { _ in })).linked }
        } else {
            objectBytes = try CCompiler().compile(entry.path, cpu: entry.cpu)
            standalone = nil
        }
    }

    /// One engine's copy: its own object and maps, the program `attack`
    /// linked (rewritten, verified) and prepared. Throws when the load is
    /// refused.
    func instance(_ side: Side) throws -> Instance {
        let engine = side.engine()
        let configuration: (LinkedProgram) -> EngineConfiguration = { $0.engineConfiguration(instructionLimit: corpusInstructionLimit) }
        if let standalone {
            let linked = try standalone.get()
            return Instance(linked: linked, object: nil, engine: engine,
                            prepared: try engine.prepare(linked.program, configuration: configuration(linked)))
        }
        let object = try LoadedObject(bytes: objectBytes ?? [], options: LoadOptions(trace: { _ in }))
        let linked = try object.program(named: "attack", type: entry.type.flatMap(ProgramTypes.named))
        try linked.program.validate()
        try object.populateProgramArrays(for: engine, instructionLimit: corpusInstructionLimit)
        return Instance(linked: linked, object: object, engine: engine,
                        prepared: try engine.prepare(linked.program, configuration: configuration(linked)))
    }
}

/// One engine's loaded copy of an entry.
struct Instance {
    let linked: LinkedProgram
    let object: LoadedObject?
    let engine: any ExecutionEngine
    let prepared: any PreparedProgram

    /// Whether the program, and every program its object's program arrays
    /// may tail-call, was proven to read only stack it wrote.
    var readsOnlyWrittenStack: Bool {
        guard linked.proofs.stackReadsInitialized else { return false }
        guard let object else { return true }
        return object.programSlots.allSatisfy { (try? object.program(named: $0.program).proofs.stackReadsInitialized) == true }
    }

    /// Runs once over `input`; `dirty` fills the machine stack first.
    func run(_ input: [UInt8], dirty: Bool) throws -> Outcome {
        let run = try linked.makeRun(input: input)
        return withExtendedLifetime(run) {
            let result: Result<UInt64, ExecutionError>
            let body = { () -> Result<UInt64, ExecutionError> in
                do throws(ExecutionError) { return .success(try prepared.run(run.input)) } catch { return .failure(error) }
            }
            result = dirty ? HostStack.dirtied(body) : body()
            return Outcome(result, packet: run.output())
        }
    }

    /// Runs once over an input of `length` bytes in a run built for the
    /// widest `mem` type, not through the program's own `makeRun` (as a
    /// host with its own buffers would): what the engine's entry does with
    /// an input longer than the program's maximum.
    func runOverMaximum(_ length: Int) throws -> Result<UInt64, ExecutionError> {
        let run = try MemProgramType(maxInput: MemProgramType.largestMaxInput)
            .makeRun(input: CorpusEntry.packet("\(length)"), maps: linked.maps.regions)
        return withExtendedLifetime(run) {
            do throws(ExecutionError) { return .success(try prepared.run(run.input)) } catch { return .failure(error) }
        }
    }

    /// Every run of the entry: each input in order, `runs` times over.
    func runAll(_ entry: CorpusEntry, dirty: Bool) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for _ in 0..<entry.runs { for input in entry.inputs { outcomes.append(try run(input, dirty: dirty)) } }
        return outcomes
    }

    /// The contents of the maps `names` designates (exact names, or names
    /// ending in a global-data section such as `.rodata`).
    func snapshot(_ names: [String]) -> [String: [[UInt8]]] {
        var result: [String: [[UInt8]]] = [:]
        for map in linked.maps.maps where names.contains(where: { map.name == $0 || map.name.hasSuffix($0) }) {
            result[map.name] = map.entries().sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { $0.key + $0.value }
        }
        return result
    }
}

/// What the verifier did with an entry and what its runs exercised.
struct EntryRecord: CustomStringConvertible {
    var file: String
    var attackClass: String
    var refused = false
    var provenAccesses = 0
    var accesses = 0
    var stackReadsInitialized = false
    var provenExercised = 0
    var verifySeconds = 0.0
    var failures: [String] = []

    var description: String {
        let verdict = failures.isEmpty ? "ok" : "FAIL"
        if refused { return "\(verdict)  \(file) [\(attackClass)]: refused at load" }
        return "\(verdict)  \(file) [\(attackClass)]: proven \(provenAccesses)/\(accesses) accesses, \(provenExercised) proven accesses exercised, stack reads initialized: \(stackReadsInitialized ? "yes" : "no"), verified in \(String(format: "%.3f", verifySeconds)) s"
    }
}

/// Proven accesses the interpreter executes over `inputs` (at most 4,000
/// instructions per input): the run is replayed with budgets 1, 2, 3, … and
/// the instruction where each budget runs out is the next one executed.
/// Maps keep what the replays did, so for programs whose path depends on a
/// map this is an estimate.
func provenAccessesExercised(_ linked: LinkedProgram, inputs: [[UInt8]], cap: UInt64 = 4_000) -> Int {
    let proofs = linked.proofs
    guard proofs.applies(to: linked.program), proofs.safeAccessCount > 0 else { return 0 }
    var count = 0
    for input in inputs.prefix(4) {
        var budget: UInt64 = 1
        while budget <= cap {
            guard let prepared = try? Interpreter().prepare(linked.program, configuration: EngineConfiguration(helpers: linked.helpers, instructionLimit: budget)),
                  let run = try? linked.makeRun(input: input) else { break }
            let stop: Int?
            do throws(ExecutionError) {
                _ = try withExtendedLifetime(run) { () throws(ExecutionError) -> UInt64 in try prepared.run(run.input) }
                stop = nil
            } catch {
                switch error {
                case .instructionLimit(let pc, _): stop = pc
                case .outOfBounds(let pc, _, _, _): if proofs.isSafeAccess(at: pc) { count += 1 }; stop = nil
                default: stop = nil
                }
            }
            guard let pc = stop else { break }
            if proofs.isSafeAccess(at: pc) { count += 1 }
            budget += 1
        }
    }
    return count
}

/// Checks one entry's contract on `sides` against the reference interpreter.
func check(_ entry: CorpusEntry, sides: [Side]) throws -> EntryRecord {
    var record = EntryRecord(file: entry.file, attackClass: entry.attackClass)
    func fail(_ message: String) {
        record.failures.append(message)
        Issue.record("\(entry.file): \(message)")
    }
    let compiled = try CompiledEntry(entry)
    let reference: Instance
    do { reference = try compiled.instance(.reference) } catch {
        // Refused at load: every engine must refuse it.
        record.refused = true
        if let words = entry.refusedWith, !"\(error)".contains(words) {
            fail("refused, but not for what @refused names ('\(words)'): \(error)")
        }
        for side in sides where (try? compiled.instance(side)) != nil {
            fail("refused on the interpreter (\(error)) but loaded on the \(side)")
        }
        return record
    }
    if entry.mustBeRefused { fail("loaded, but @refused says the load must be refused") }
    // A program that hands the host a pointer loads under the privileged
    // policy (compared value-or-error only) and must be refused, naming an
    // instruction, under the unprivileged one.
    if entry.leak, let bytes = compiled.objectBytes {
        switch unprivilegedLoad(bytes) {
        case .success: fail("a program that leaks pointers loaded under the unprivileged policy")
        case .failure(let refusal) where !refusal.contains("instruction "):
            fail("the unprivileged refusal names no instruction: \(refusal)")
        case .failure: break
        }
    }
    let report = reference.linked.verification
    record.provenAccesses = report.provenAccessCount
    record.accesses = report.accessCount
    record.stackReadsInitialized = report.proofs.stackReadsInitialized
    record.verifySeconds = Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18
    // The verifier's work must stay within its budget (in its own cost
    // units, which do not depend on the build or the machine's load; the
    // budget's time in a release build is measured by BPFVerifierBench).
    // A release build is also held to the wall-clock bound.
    let budget = VerifierLimits().maxCost
    if report.cost > budget + budget / 100 {
        fail("verification spent \(report.cost) cost units (the budget is \(budget))")
    }
    #if !DEBUG
    if record.verifySeconds > entry.maxVerifySeconds {
        fail("verification took \(record.verifySeconds) s (at most \(entry.maxVerifySeconds) s)")
    }
    #endif
    let readonlyBefore = reference.snapshot(entry.readonly)
    let expected = try reference.runAll(entry, dirty: false)
    record.provenExercised = provenAccessesExercised(try compiled.instance(.reference).linked, inputs: entry.inputs)
    let tailCalls = !(reference.object?.programArrays.isEmpty ?? true)
    // A proven access the interpreter stops on is a wrong proof, whatever the JITs do.
    let proofs = reference.linked.proofs
    if !tailCalls, proofs.applies(to: reference.linked.program) {
        for case .error(let kind) in expected where kind.hasPrefix("out of bounds at ") {
            let pc = Int(kind.dropFirst("out of bounds at ".count).prefix { $0.isNumber }) ?? -1
            if proofs.isSafeAccess(at: pc) { fail("the access at \(pc) was proven, but the interpreter stopped it: \(kind)") }
        }
    }
    var all: [(Side, Instance, [String: [[UInt8]]], [Outcome])] = [(.reference, reference, readonlyBefore, expected)]
    for side in sides {
        let instance: Instance
        do { instance = try compiled.instance(side) } catch {
            fail("loaded on the interpreter but refused on the \(side): \(error)")
            continue
        }
        let before = instance.snapshot(entry.readonly)
        let outcomes = try instance.runAll(entry, dirty: side == .x86_64)
        all.append((side, instance, before, outcomes))
        // A tail-called program starts on a stack of its own, filled too:
        // the comparison holds only if every program a run may enter was
        // proven to read only stack it wrote.
        if side == .filledInterpreter && !instance.readsOnlyWrittenStack { continue }
        if let k = outcomes.indices.first(where: { !outcomes[$0].agrees(with: expected[$0], leak: entry.leak) }) {
            let input = entry.inputs[k % entry.inputs.count]
            fail("""
                run \(k) (\(input.count)-byte packet, first bytes \(input.prefix(16).map { String(format: "%02x", $0) }.joined())): \
                interpreter \(expected[k]), \(side) \(outcomes[k])\
                \(side == .filledInterpreter ? " (the program was proven to read only stack it wrote)" : "")
                """)
        }
    }
    // Inputs over the maximum the proofs assume: refused up front by the
    // program's own run, and by every engine at its entry for a run made elsewhere.
    if !entry.overMaximum.isEmpty {
        if let maximum = proofs.inputLengthLimit {
            for length in entry.overMaximum {
                if length <= maximum { fail("@over-maximum \(length) is not over the program's maximum of \(maximum) bytes") }
                if (try? reference.linked.makeRun(input: CorpusEntry.packet("\(length)"))) != nil {
                    fail("the program's own run took a \(length)-byte input, over its maximum of \(maximum) bytes")
                }
                for (side, instance, _, _) in all {
                    let outcome = try instance.runOverMaximum(length)
                    if outcome != .failure(.inputTooLong(length: UInt64(length), maximum: maximum)) {
                        fail("the \(side) ran a \(length)-byte input over the maximum of \(maximum) bytes: \(outcome)")
                    }
                }
            }
        } else {
            fail("@over-maximum, but the proofs assume no input maximum (give a program type whose r2 is the input's length)")
        }
    }
    for (side, instance, before, outcomes) in all {
        if !entry.readonly.isEmpty {
            let after = instance.snapshot(entry.readonly)
            if after != before { fail("the \(side) changed read-only maps: \(before) -> \(after)") }
            if entry.readonly.contains(where: { name in !instance.linked.maps.maps.contains { $0.name == name || $0.name.hasSuffix(name) } }) {
                fail("a map named in @readonly does not exist: \(entry.readonly), maps \(instance.linked.maps.maps.map(\.name))")
            }
        }
        for forbidden in entry.forbiddenResults where outcomes.contains(where: { $0.r0 == forbidden }) {
            fail("the \(side) returned 0x\(String(forbidden, radix: 16)), which only a hole gives")
        }
    }
    return record
}

/// Per class: entries, refusals, failures and proven accesses exercised.
func summary(_ records: [EntryRecord], title: String) -> String {
    var lines = ["\(title): \(records.count) entries, \(records.filter(\.refused).count) refused at load, \(records.filter { !$0.failures.isEmpty }.count) failing, \(records.reduce(0) { $0 + $1.provenExercised }) proven accesses exercised"]
    let classes = Dictionary(grouping: records, by: \.attackClass)
    for (name, group) in classes.sorted(by: { $0.key < $1.key }) {
        lines.append("  \(name): \(group.count) entries, \(group.filter(\.refused).count) refused, \(group.filter { !$0.failures.isEmpty }.count) failing, \(group.reduce(0) { $0 + $1.provenExercised }) proven accesses exercised")
    }
    lines += records.map { "  \($0)" }
    return lines.joined(separator: "\n")
}

/// Loads an entry's `attack` program under the unprivileged policy: success,
/// or the refusal's text.
func unprivilegedLoad(_ bytes: [UInt8]) -> Result<Void, UnprivilegedRefusal> {
    do {
        let object = try LoadedObject(bytes: bytes, options: LoadOptions(trace: { _ in }, policy: .unprivileged))
        _ = try object.program(named: "attack")
        return .success(())
    } catch {
        return .failure(UnprivilegedRefusal(text: "\(error)"))
    }
}

struct UnprivilegedRefusal: Error {
    let text: String
    func contains(_ part: String) -> Bool { text.contains(part) }
}

extension UnprivilegedRefusal: CustomStringConvertible { var description: String { text } }
