import BPFAssembler
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFLoader
import BPFMatrix
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier

/// The tail-call corpus (`TailCallCases`) and the context backstop
/// (`TailCallContextCases`) on every configuration of a row.
public enum TailCallKit {
    /// A corpus case on an engine, plain or hardened.
    public static func outcome(_ test: TailCallCase, on engine: any ExecutionEngine, hardened: Bool,
                               byteOrder: ByteOrder) throws -> TailCallCase.Outcome {
        try TailCallFixture.outcome(test, on: engine, hardened: hardened, byteOrder: byteOrder)
    }

    /// Every configuration, plain and (where the backend hardens) hardened,
    /// must come to the kernel's outcome; a big-endian row to the big-endian
    /// interpreter's (the corpus's expected bytes are little-endian).
    static func corpus(_ row: BackendRow, _ test: TailCallCase) throws -> BackendCheckReport {
        let expected = row.byteOrder == .little ? test.expected
            : try outcome(test, on: row.reference, hardened: false, byteOrder: row.byteOrder)
        var failures: [String] = [], cells = 0
        for (label, engine) in row.configurations {
            for hardened in row.supportsHardening ? [false, true] : [false] {
                cells += 1
                let got: String
                do {
                    let outcome = try outcome(test, on: engine, hardened: hardened, byteOrder: row.byteOrder)
                    if outcome == expected { continue }
                    got = "\(outcome)"
                } catch {
                    got = "\(error)"
                }
                failures.append("\(test.name) (\(row.name) \(label)\(hardened ? " hardened" : "")): \(got), expected \(expected)")
            }
        }
        return BackendCheckReport(summary: "tail-call corpus on \(row.name), \(test.name): \(cells - failures.count)/\(cells) cells agree",
                                  failures: failures)
    }

    /// A tail call whose r1 is not the run's context stops at the call
    /// (`tailCallContextMismatch`) when no verifier saw the program, and the
    /// verifier refuses it; one whose r1 is the context goes through,
    /// verified or not.
    static func context(_ row: BackendRow, _ test: TailCallContextCases.Case) throws -> BackendCheckReport {
        var failures: [String] = []
        for (label, engine) in row.configurations {
            let f = try TailCallFixture(engine, byteOrder: row.byteOrder)
            try f.array.set(try f.target(Program([.alu(.w64, .mov, dst: .r0, .immediate(7)), .exit], name: "leaf")), at: 1)
            if test.returns == nil {
                do {
                    _ = try f.link(test.caller)
                    failures.append("\(label): the verifier let \(test.name) through")
                } catch is ObjectLoadError {
                } catch {
                    failures.append("\(label): the verifier refused \(test.name) with \(error), not an ObjectLoadError")
                }
            }
            for verified in test.returns == nil ? [false] : [false, true] {
                let linked = try f.link(test.caller, verified: verified)
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(verified: verified))
                let got: String
                do { got = "returned \(try f.run(prepared).0)" } catch { got = "\(error)" }
                let expected = test.returns.map { "returned \($0)" } ?? "\(ExecutionError.tailCallContextMismatch(pc: test.callPC))"
                if got != expected { failures.append("\(test.name) (\(label), verified \(verified)): \(got), expected \(expected)") }
            }
        }
        return BackendCheckReport(summary: "tail-call context on \(row.name), \(test.name): \(failures.count) failures", failures: failures)
    }
}

/// What a run holds and when it is released: read-only maps, stale
/// map-value pointers, ring-buffer reservations left open, and tail-call
/// targets retired by slot changes (on an emulated machine their images are
/// unmapped, so the emulator's mappings stay flat).
public enum RunLifetimeKit {
    static func prepare(_ row: BackendRow, _ text: String, maps: [any BPFMap], verify: Bool) throws -> (any PreparedProgram, LinkedProgram) {
        let linked = try LinkedProgram(program: try Assembler.assemble(text, name: "lifetime"), type: ProgramTypes.mem, maps: maps,
                                       options: LoadOptions(trace: { _ in }, verifierLimits: verify ? VerifierLimits() : nil))
        return (try row.configurations[0].engine.prepare(linked.program, configuration: linked.engineConfiguration()), linked)
    }

    static func run(_ row: BackendRow, _ prepared: any PreparedProgram, _ linked: LinkedProgram) throws -> UInt64 {
        let run = try linked.makeRun(input: Array(repeating: 0, count: 64), byteOrder: row.byteOrder)
        return try withExtendedLifetime(run) { try prepared.run(run.input) }
    }

    /// Helpers refuse writes to maps the program may only read (EACCES), or the load refuses the program.
    static func readOnlyMaps(_ row: BackendRow, verify: Bool) throws -> BackendCheckReport {
        var failures: [String] = []
        let rodata = try makeMap(MapDefinition(name: ".rodata", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
                                               flags: [.readOnlyProgram, .mmapable]))
        let hash = try makeMap(MapDefinition(name: "ro_hash", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4,
                                             flags: [.readOnlyProgram]))
        try hash.update(key: [0, 0, 0, 0], value: [2, 0, 0, 0, 0, 0, 0, 0])
        for (index, helper) in [(0, 2), (1, 2), (1, 3)] {
            let prepared: (any PreparedProgram, LinkedProgram)
            do {
                prepared = try prepare(row, LifetimePrograms.mapWrite(map: index, helper: helper), maps: [rodata, hash], verify: verify)
            } catch {
                continue // refused at load: as good
            }
            let r0 = Int64(bitPattern: try run(row, prepared.0, prepared.1))
            if r0 != -Int64(Errno.EACCES) { failures.append("map \(index), helper \(helper): returned \(r0), not -EACCES") }
        }
        if try rodata.lookup(key: [0, 0, 0, 0]) != [0, 0, 0, 0, 0, 0, 0, 0] { failures.append("the read-only array changed") }
        if try hash.lookup(key: [0, 0, 0, 0]) != [2, 0, 0, 0, 0, 0, 0, 0] { failures.append("the read-only hash changed") }
        return BackendCheckReport(summary: "read-only maps on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// A pointer to an element deleted and recreated never reaches another key's value.
    static func stalePointer(_ row: BackendRow) throws -> BackendCheckReport {
        var failures: [String] = []
        let m = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1))
        let (prepared, linked) = try prepare(row, LifetimePrograms.stalePointer, maps: [m], verify: true)
        // The program's key is a word in the engine's byte order: the host's
        // key bytes below are little-endian, so a big-endian row is judged
        // against the big-endian interpreter on the same steps.
        var expected: [UInt64] = Array(repeating: 222, count: 5)
        if row.byteOrder == .big {
            let reference = try row.reference.prepare(linked.program, configuration: linked.engineConfiguration())
            expected = []
            for _ in 0..<5 {
                try m.update(key: [1, 0, 0, 0], value: [0x11, 0, 0, 0, 0, 0, 0, 0])
                expected.append(try run(row, reference, linked))
            }
            try? m.delete(key: [1, 0, 0, 0])
        }
        for round in 0..<5 {
            try m.update(key: [1, 0, 0, 0], value: [0x11, 0, 0, 0, 0, 0, 0, 0])
            let r0 = try run(row, prepared, linked)
            if r0 != expected[round] { failures.append("round \(round): returned \(r0), the interpreter \(expected[round])") }
        }
        return BackendCheckReport(summary: "stale pointer on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// Reservations a run leaves open are released when it ends.
    static func reservations(_ row: BackendRow) throws -> BackendCheckReport {
        var failures: [String] = []
        guard let ring = try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0,
                                                   maxEntries: 4096)) as? RingBuffer else {
            return BackendCheckReport(summary: "", failures: ["a ring-buffer definition made another kind of map"])
        }
        let (leaking, leakLinked) = try prepare(row, LifetimePrograms.reserveAndLeave, maps: [ring], verify: false)
        let (submitting, goodLinked) = try prepare(row, LifetimePrograms.reserveAndSubmit, maps: [ring], verify: false)
        var reserved = 0
        // A consumer drains between runs, as `bpfkit run` and embedders do.
        for _ in 0..<300 {
            reserved += Int(try run(row, leaking, leakLinked))
            if !ring.consume().isEmpty { failures.append("a reservation left open was submitted") }
        }
        if reserved != 300 { failures.append("\(reserved) of 300 reservations succeeded") }
        if ring.outstandingReservations != 0 { failures.append("\(ring.outstandingReservations) reservations still outstanding") }
        let submitted = try run(row, submitting, goodLinked)
        if submitted != 1 { failures.append("reserve and submit returned \(submitted)") }
        let records = ring.consume()
        // The record holds the 64-bit 77 in the engine's byte order.
        let record: [UInt8] = row.byteOrder == .big ? [0, 0, 0, 0, 0, 0, 0, 77] : [77, 0, 0, 0, 0, 0, 0, 0]
        if records != [record] { failures.append("records after submit: \(records), expected [\(record)]") }
        return BackendCheckReport(summary: "ring reservations on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// Slot changes, each to a freshly prepared target (or clearing it), with
    /// runs in between: results follow the slot; on an emulated machine,
    /// retired targets are released and their images unmapped (Unicorn
    /// aborts near 1,600 mappings when every old image stays mapped).
    static func slotChanges(_ row: BackendRow) throws -> BackendCheckReport {
        var failures: [String] = []
        let f = try TailCallFixture(row.configurations[0].engine, maxEntries: 2, byteOrder: row.byteOrder)
        func link(_ program: Program) throws -> LinkedProgram { try f.link(program, verified: false) }
        let callerLinked = try link(Code { Code.Item.tailCall(index: 0); Instruction.mov(.r0, 99); Instruction.exit }.program("caller"))
        let caller = try f.engine.prepare(callerLinked.program, configuration: callerLinked.engineConfiguration())
        var peakLive = 0, peakMapped = 0
        for i in 0..<row.slotChanges {
            let expected: UInt64
            if i % 5 == 4 {
                try f.array.clear(at: 0)
                expected = 99
            } else {
                let value = Int32(i % 1000)
                try f.array.set(try TailCallTargets.make(try link(Program([.mov(.r0, value), .exit], name: "t\(i)")), engine: f.engine), at: 0)
                expected = UInt64(value)
            }
            if i % 8 == 0 {
                let got = try run(row, caller, callerLinked)
                if got != expected { failures.append("change \(i): returned \(got), expected \(expected)") }
            }
            if i >= 100, let counts = row.imageCounts(caller) {
                peakLive = max(peakLive, counts.live)
                peakMapped = max(peakMapped, counts.mapped)
            }
        }
        // Retired targets wait only for runs in flight (other tests' too), never for good.
        if peakLive >= 1_000 {
            failures.append("\(peakLive) live images: retired targets are kept (other suites' runs in flight hold some hundreds at most)")
        }
        if peakMapped >= 1_000 { failures.append("\(peakMapped) images mapped in one engine of the machine") }
        return BackendCheckReport(summary: "\(row.slotChanges) slot changes on \(row.name): peak \(peakLive) live, \(peakMapped) mapped images",
                                  failures: failures)
    }
}
