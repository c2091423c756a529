import BPFAssembler
import BPFExecMemory
import BPFHelpers
import BPFISA
import BPFJIT
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation
import Testing

/// What a run holds and when it is released, on the interpreter and the
/// host's JIT: program-side writes to read-only maps, map values and
/// tail-call targets kept while a run may use them, ring-buffer
/// reservations a run left open. arm64 under the emulator: BPFJITArm64Tests.
@Suite struct RunLifetimeTests {
    /// Links `text` over `maps` (verified unless `verify` is false) and prepares it for `engine`.
    static func prepare(_ text: String, maps: [any BPFMap], engine: any ExecutionEngine, verify: Bool) throws -> (any PreparedProgram, LinkedProgram) {
        let program = try Assembler.assemble(text, name: "lifetime")
        let linked = try LinkedProgram(program: program, type: ProgramTypes.mem, maps: maps,
                                       options: LoadOptions(trace: { _ in }, verifierLimits: verify ? VerifierLimits() : nil))
        return (try engine.prepare(linked.program, configuration: linked.engineConfiguration()), linked)
    }

    static func run(_ prepared: any PreparedProgram, _ linked: LinkedProgram) throws -> UInt64 {
        let run = try linked.makeRun(input: Array(repeating: 0, count: 64))
        return try prepared.run(run.input)
    }

    struct Case: CustomStringConvertible, Sendable {
        let engine: String
        let verify: Bool
        var description: String { "\(engine), \(verify ? "verified" : "unverified")" }
    }

    static let cases = engines.flatMap { e in [true, false].map { Case(engine: e.name, verify: $0) } }
    static func engine(_ name: String) -> any ExecutionEngine { engines.first { $0.name == name }! }

    // MARK: Read-only maps

    /// `bpf_map_update_elem` / `bpf_map_delete_elem` on a `.rodata`-style
    /// array and a BPF_F_RDONLY_PROG hash return -EACCES and change nothing,
    /// through every path: helper bodies, native entries, proven entries.
    @Test(arguments: cases)
    func helpersRefuseWritesToReadOnlyMaps(_ c: Case) throws {
        let rodata = try makeMap(MapDefinition(name: ".rodata", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
                                               flags: [.readOnlyProgram, .mmapable]))
        let hash = try makeMap(MapDefinition(name: "ro_hash", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4,
                                             flags: [.readOnlyProgram]))
        try rodata.update(key: [0, 0, 0, 0], value: [1, 0, 0, 0, 0, 0, 0, 0])
        try hash.update(key: [0, 0, 0, 0], value: [2, 0, 0, 0, 0, 0, 0, 0])
        for (index, helper) in [(0, 2), (1, 2), (1, 3)] {
            let text = LifetimePrograms.mapWrite(map: index, helper: helper)
            let prepared: (any PreparedProgram, LinkedProgram)
            do {
                prepared = try Self.prepare(text, maps: [rodata, hash], engine: Self.engine(c.engine), verify: c.verify)
            } catch {
                continue // refused at load: as good
            }
            let r0 = try Self.run(prepared.0, prepared.1)
            #expect(Int64(bitPattern: r0) == -Int64(Errno.EACCES), "map \(index), helper \(helper): r0 = \(Int64(bitPattern: r0))")
        }
        #expect(try rodata.lookup(key: [0, 0, 0, 0]) == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(try hash.lookup(key: [0, 0, 0, 0]) == [2, 0, 0, 0, 0, 0, 0, 0])
    }

    // MARK: Map values

    @Test(arguments: cases)
    func aStalePointerNeverReachesAnotherKeysValue(_ c: Case) throws {
        let m = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1))
        let (prepared, linked) = try Self.prepare(LifetimePrograms.stalePointer, maps: [m], engine: Self.engine(c.engine), verify: c.verify)
        if c.verify { #expect(linked.verification.unproven.isEmpty, "\(linked.verification.unproven)") }
        for _ in 0..<20 {
            try m.update(key: [1, 0, 0, 0], value: [0x11, 0, 0, 0, 0, 0, 0, 0])
            let r0 = try Self.run(prepared, linked)
            #expect(r0 == 222, "r0 = 0x\(String(r0, radix: 16))")
            #expect(m.keys() == [])
        }
    }

    /// A host thread replaces and re-adds elements while programs on another
    /// thread hold a pointer to key 1's value across helper calls, then
    /// store a marker through it: 20,000 runs, and no marker ever lands in
    /// the value of key 2 or 3.
    @Test(arguments: engines.map(\.name))
    func hostUpdatesWhileProgramsHoldPointers(_ name: String) throws {
        let m = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        let text = LifetimePrograms.holdAcrossCalls
        let (prepared, linked) = try Self.prepare(text, maps: [m], engine: Self.engine(name), verify: true)
        @Sendable func value(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        try m.update(key: [1, 0, 0, 0], value: value(0x1111))
        try m.update(key: [2, 0, 0, 0], value: value(0x2222))
        try m.update(key: [3, 0, 0, 0], value: value(0x3333))
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var done = false
            var clashes = 0
            var hostRounds = 0
        }
        let shared = Shared()
        let hostDone = DispatchSemaphore(value: 0)
        Thread {
            defer { hostDone.signal() }
            var rounds = 0, clashes = 0
            while !shared.lock.withLock({ shared.done }) {
                // Keys 2 and 3 still hold what the last round wrote, whatever ran meanwhile.
                if (try? m.lookup(key: [2, 0, 0, 0])) != value(0x2222) { clashes += 1 }
                if (try? m.lookup(key: [3, 0, 0, 0])) != value(0x3333) { clashes += 1 }
                try? m.delete(key: [1, 0, 0, 0])
                try? m.update(key: [1, 0, 0, 0], value: value(0x1111))
                try? m.update(key: [2, 0, 0, 0], value: value(0x2222))
                try? m.update(key: [3, 0, 0, 0], value: value(0x3333))
                rounds += 1
            }
            shared.lock.withLock { shared.clashes += clashes; shared.hostRounds = rounds }
        }.start()
        var held = 0
        for _ in 0..<20_000 { held += Int(try Self.run(prepared, linked)) }
        shared.lock.withLock { shared.done = true }
        hostDone.wait()
        #expect(shared.clashes == 0, "\(shared.clashes) stale stores landed in another key's value (\(held) runs held a pointer, \(shared.hostRounds) host rounds)")
        #expect(held > 0)
        #expect((try? m.lookup(key: [2, 0, 0, 0])) == value(0x2222))
        #expect((try? m.lookup(key: [3, 0, 0, 0])) == value(0x3333))
    }

    // MARK: Ring buffers

    /// A program that reserves and never submits, run 300 times (the ring
    /// holds 256 of its records), then a well-behaved one: its records arrive.
    @Test(arguments: engines.map(\.name))
    func reservationsLeftOpenAreReleasedAtRunEnd(_ name: String) throws {
        let ring = try #require(try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0,
                                                          maxEntries: 4096)) as? RingBuffer)
        let leak = LifetimePrograms.reserveAndLeave, good = LifetimePrograms.reserveAndSubmit
        // Unverified: the verifier refuses the leaking program; this is the run-time side.
        let (leaking, leakLinked) = try Self.prepare(leak, maps: [ring], engine: Self.engine(name), verify: false)
        let (submitting, goodLinked) = try Self.prepare(good, maps: [ring], engine: Self.engine(name), verify: false)
        var reserved = 0
        // A consumer drains between runs, as `bpfkit run` and embedders do.
        for _ in 0..<300 {
            reserved += Int(try Self.run(leaking, leakLinked))
            #expect(ring.consume().isEmpty)
        }
        #expect(reserved == 300, "every reserve succeeds: earlier runs' records were released")
        #expect(ring.outstandingReservations == 0)
        for _ in 0..<3 { #expect(try Self.run(submitting, goodLinked) == 1) }
        #expect(ring.consume() == Array(repeating: [77, 0, 0, 0, 0, 0, 0, 0], count: 3))
    }

    // MARK: Tail-call targets

    /// 20,000 changes of a slot, each to a freshly prepared target (or
    /// clearing it), interleaved with runs: results follow the slot, retired
    /// targets are released, and the JIT's code memory stays flat.
    @Test(arguments: engines.map(\.name))
    func retiredTailCallTargetsAreReleased(_ name: String) throws {
        let f = try Fixture(Self.engine(name))
        let caller = try f.prepare(Code { Code.Item.tailCall(index: 0); Instruction.mov(.r0, 99); Instruction.exit }.program("caller"))
        var imagesAtStart: Int?
        var maxRetired = 0
        for i in 0..<20_000 {
            let expected: UInt64
            if i % 5 == 4 {
                try f.array.clear(at: 0)
                expected = 99
            } else {
                let value = Int32(i % 1000)
                try f.array.set(try f.target(returns(value, "t\(i)")), at: 0)
                expected = UInt64(value)
            }
            if i % 16 == 0 { #expect(try f.run(caller).0 == expected, "change \(i)") }
            maxRetired = max(maxRetired, f.array.retiredCount)
            if i == 100 { imagesAtStart = ProgramPack.jit.statistics.images }
        }
        // Targets wait only for runs in flight (other tests' runs, in this process), never for good:
        // how many wait at once depends on what else runs (a few dozen alone, some hundreds beside
        // the other suites), while without release every one of the 20,000 stays.
        #expect(maxRetired < 1_000, "up to \(maxRetired) retired targets waited at once")
        if name != "interpreter", let imagesAtStart {
            let images = ProgramPack.jit.statistics.images
            #expect(images < imagesAtStart + 1_000, "JIT images grew from \(imagesAtStart) to \(images)")
        }
    }
}
