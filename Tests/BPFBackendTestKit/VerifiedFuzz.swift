import BPFAssembler
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation

/// Random verified XDP programs (`RandomProgram`: packet checks, loops, the
/// stack, a map value, atomics, `bpf_xdp_adjust_head`) on the first
/// configuration of a row, as `bpfkit run` prepares them (the verifier's proofs: proven
/// accesses unchecked, no guard where termination is proven), against the
/// interpreter of the row's byte order with no proofs, which checks every
/// access. Each engine has a map of its own; after every run they must agree
/// on r0 or the error, and on the packet, and at the end on the map. The
/// programs are drawn `defined`: every register written before it is read,
/// accesses mostly inside the packet and the stack, and r0 = r2 ^ r3, the
/// numbers the program computed.
///
/// Some results depend on addresses, which differ from engine to engine and
/// from run to run: a pointer stored into the packet or the map, or an access
/// past one buffer that lands in another of the run's regions (region checks
/// allow it). Where the engines disagree, both replay the program on fresh
/// buffers; a difference that moves with the layout is counted, not failed.
///
/// Environment: `JIT_FUZZ_PROGRAMS=N` (seeds first..<N), `JIT_FUZZ_FIRST`,
/// `JIT_FUZZ_SEED=S` replays one program, `JIT_FUZZ_TRACE` names the
/// programs left out for reading a register before writing it.
public enum VerifiedFuzz {
    /// What one run came to, with what differs legitimately left out: the
    /// address of a bad access (each run has its own buffers) and where the
    /// runaway guard stopped (the JIT charges it per backward jump).
    enum Outcome: Equatable {
        case value(UInt64, packet: [UInt8])
        case outOfBounds(pc: Int, size: Int, write: Bool)
        /// Helper failures name the bad argument's address, which differs too.
        case helperFailed(pc: Int, id: Int32)
        /// So do the reasons of unsupported operations (an unaligned atomic's address).
        case unsupported(pc: Int)
        case instructionLimit
        case other(String)

        init(_ result: Result<UInt64, ExecutionError>, packet: [UInt8]) {
            switch result {
            case .success(let r0): self = .value(r0, packet: packet)
            case .failure(.outOfBounds(let pc, _, let size, let write)): self = .outOfBounds(pc: pc, size: size, write: write)
            case .failure(.helperFailed(let pc, let id, _)): self = .helperFailed(pc: pc, id: id)
            case .failure(.unsupported(let pc, _)): self = .unsupported(pc: pc)
            case .failure(.instructionLimit): self = .instructionLimit
            case .failure(let error): self = .other("\(error)")
            }
        }
    }

    struct Tally { var programs = 0, skipped = 0, runs = 0, values = 0, outOfBounds = 0, limits = 0, others = 0, provenPrograms = 0, addressDependent = 0, undefined = 0 }

    /// One engine's copy of the program: its own map, linked and prepared.
    struct Side {
        let linked: LinkedProgram
        let map: any BPFMap
        let prepared: any PreparedProgram
        let byteOrder: ByteOrder

        func run(_ packet: [UInt8]) throws -> Outcome {
            let run = try linked.makeRun(input: packet, byteOrder: byteOrder)
            return withExtendedLifetime(run) {
                let result: Result<UInt64, ExecutionError>
                do throws(ExecutionError) { result = .success(try prepared.run(run.input)) } catch { result = .failure(error) }
                return Outcome(result, packet: run.output())
            }
        }

        func mapContents() throws -> [[UInt8]] {
            try (0..<UInt32(map.definition.maxEntries)).map { key in try map.lookup(key: withUnsafeBytes(of: key.littleEndian) { Array($0) }) }
        }
    }

    static let options = LoadOptions(verifierLimits: VerifierLimits(maxSteps: 200_000, unrollLimit: 40))

    /// Whether the verifier refuses `program` where pointers may not leak:
    /// its results (r0, the packet, the map, its branches) may then follow
    /// addresses, which differ from engine to engine.
    public static func mayLeakAddresses(_ program: Program) -> Bool {
        guard let map = try? map() else { return true }
        return LinkedProgram.addressLeak(in: [program], type: ProgramTypes.xdp, maps: [map], options: options) != nil
    }

    static func map() throws -> any BPFMap {
        try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 16, maxEntries: 4))
    }

    /// The program on `engine` as `bpfkit run` prepares it (the verifier's
    /// proofs), or with no proofs at all on the reference (`jit` nil).
    static func side(_ program: Program, jit engine: (any ExecutionEngine)?, reference: any ExecutionEngine, byteOrder: ByteOrder) throws -> Side {
        let map = try map()
        let linked = try LinkedProgram(program: program, type: ProgramTypes.xdp, maps: [map], options: options)
        let proofs = linked.proofs
        let limit = proofs.terminates ? proofs.maxInstructions : 20_000
        let prepared: any PreparedProgram = if let engine {
            try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit))
        } else {
            try reference.prepare(linked.program, configuration: EngineConfiguration(helpers: linked.helpers, instructionLimit: limit))
        }
        return Side(linked: linked, map: map, prepared: prepared, byteOrder: byteOrder)
    }

    /// What a copy of the program did over the packets, in order: up to a
    /// stop by the runaway guard (after which the engines' maps may differ:
    /// they stop at different points), with the map's contents at the end, or
    /// nil after such a stop.
    struct Replay: Equatable {
        var outcomes: [Outcome] = []
        var map: [[UInt8]]?
    }

    /// Runs `side` (fresh buffers, its own map) over `packets`. `layout` > 0
    /// keeps that many extra runs' buffers (and an odd-sized block) alive per
    /// run, so that the allocator cannot hand the runs the addresses an
    /// earlier replay had.
    static func replay(on side: Side, packets: [[UInt8]], layout: Int = 0) throws -> Replay {
        var replay = Replay()
        var kept: [Any] = []
        defer { withExtendedLifetime(kept) {} }
        for packet in packets {
            for _ in 0..<layout {
                kept.append(try side.linked.makeRun(input: packet, byteOrder: side.byteOrder))
                kept.append([UInt8](repeating: 0, count: 40 * layout + 8))
            }
            replay.outcomes.append(try side.run(packet))
            if replay.outcomes.last == .instructionLimit { return replay }
        }
        replay.map = try side.mapContents()
        return replay
    }

    static func check(seed: UInt64, row: BackendRow, label: String, engine: any ExecutionEngine, tally: inout Tally,
                      failures: inout [String]) throws {
        var generator = RandomProgram(seed: seed, defined: true)
        let program = generator.generate()
        var packets: [[UInt8]] = []
        for _ in 0..<8 {
            var rng = generator.rng
            var length = Int.random(in: 14...120, using: &rng)
            if !generator.checks.isEmpty, Int.random(in: 0..<100, using: &rng) < 70 {
                length = max(14, generator.checks[Int.random(in: 0..<generator.checks.count, using: &rng)] + Int.random(in: -1...1, using: &rng))
            }
            packets.append((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
            generator.rng = rng
        }
        let reference = row.reference
        func side(jit: Bool) throws -> Side { try Self.side(program, jit: jit ? engine : nil, reference: reference, byteOrder: row.byteOrder) }
        let first: Side
        do { first = try side(jit: false) } catch {
            tally.skipped += 1 // the verifier refused it: nothing to run
            return
        }
        let linked = first.linked
        // A register read before it is written holds what each engine
        // happened to leave there: the ISA does not say, and the kernel's
        // verifier refuses such programs.
        if let read = linked.verification.uninitializedRead {
            if ProcessInfo.processInfo.environment["JIT_FUZZ_TRACE"] != nil { print("seed \(seed): \(read)") }
            tally.undefined += 1
            return
        }
        tally.programs += 1
        if linked.proofs.safeAccessCount > 0 { tally.provenPrograms += 1 }
        let interpreter = try Self.replay(on: first, packets: packets)
        let jit = try Self.replay(on: side(jit: true), packets: packets)
        if jit != interpreter {
            // Where the results depend on addresses (a pointer stored into
            // the packet or the map, or compared with a number; an access
            // past one buffer that lands in another of the run's regions,
            // which region checks allow), a second layout gives other
            // results on the same engine. Whether a layout moves far enough
            // depends on the allocator (under AddressSanitizer it may not),
            // so a program the verifier refuses where pointers may not leak
            // counts as address-dependent without one.
            if mayLeakAddresses(program) {
                tally.addressDependent += 1
                return
            }
            for layout in 1...3 {
                let again = try Self.replay(on: side(jit: false), packets: packets, layout: layout)
                let jitAgain = try Self.replay(on: side(jit: true), packets: packets, layout: layout)
                if again != interpreter || jitAgain != jit {
                    tally.addressDependent += 1
                    return
                }
            }
            let round = (0..<min(interpreter.outcomes.count, jit.outcomes.count)).first { interpreter.outcomes[$0] != jit.outcomes[$0] }
            failures.append("""
                seed \(seed): interpreter and \(row.name) \(label) differ\(round.map { " at run \($0) (\(packets[$0].count)-byte packet): interpreter \(interpreter.outcomes[$0]), JIT \(jit.outcomes[$0])" } ?? " on the map after the runs")
                \(Disassembler.disassemble(program, style: .llvm))
                """)
            return
        }
        for outcome in interpreter.outcomes {
            tally.runs += 1
            switch outcome {
            case .value: tally.values += 1
            case .outOfBounds: tally.outOfBounds += 1
            case .helperFailed, .unsupported, .other: tally.others += 1
            case .instructionLimit: tally.limits += 1
            }
        }
    }

    /// The row's first `verifiedFuzzPrograms` seeds.
    static func check(_ row: BackendRow) throws -> BackendCheckReport {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["JIT_FUZZ_PROGRAMS"].flatMap(UInt64.init) ?? UInt64(row.verifiedFuzzPrograms) // seeds first..<count
        let first = environment["JIT_FUZZ_FIRST"].flatMap(UInt64.init) ?? 0
        let seeds = environment["JIT_FUZZ_SEED"].flatMap(UInt64.init).map { [$0] } ?? (first..<count).map { 0x6a17_0000 + $0 }
        var failures: [String] = [], summaries: [String] = []
        // The row's first configuration (the facade's): the programs are
        // many, and the other configurations differ in lowerings the
        // generated suite covers.
        for (label, engine) in row.configurations.prefix(1) {
            var tally = Tally()
            for seed in seeds { try check(seed: seed, row: row, label: label, engine: engine, tally: &tally, failures: &failures) }
            // The fuzz must reach both the values and the errors, on programs
            // whose proofs take checks out (otherwise it proves little).
            if seeds.count > 1 {
                if tally.programs <= seeds.count * 8 / 10 { failures.append("\(label): too few programs ran: \(tally)") }
                if tally.values * 2 <= tally.runs { failures.append("\(label): too few runs ended with a value: \(tally)") }
                if tally.outOfBounds == 0 { failures.append("\(label): no run went out of bounds: \(tally)") }
                if tally.provenPrograms * 2 <= tally.programs { failures.append("\(label): too few programs had proven accesses: \(tally)") }
                if tally.addressDependent * 10 >= tally.programs { failures.append("\(label): too many address-dependent programs: \(tally)") }
            }
            summaries.append("\(label) \(tally)")
        }
        return BackendCheckReport(summary: "verified XDP differential fuzz on \(row.name): \(summaries.joined(separator: "; "))", failures: failures)
    }
}
