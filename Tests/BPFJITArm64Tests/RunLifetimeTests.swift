import BPFAssembler
import BPFEmulator
import BPFHelpers
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Testing

/// What a run holds and when it is released, on arm64 under the emulator:
/// read-only maps, stale map-value pointers, ring-buffer reservations left
/// open, and tail-call targets retired by slot changes (their images are
/// unmapped, so the emulator's mappings stay flat).
@Suite struct RunLifetimeTests {
    static func prepare(_ text: String, maps: [any BPFMap], verify: Bool) throws -> (any PreparedProgram, LinkedProgram) {
        let linked = try LinkedProgram(program: try Assembler.assemble(text, name: "lifetime"), type: ProgramTypes.mem, maps: maps,
                                       options: LoadOptions(trace: { _ in }, verifierLimits: verify ? VerifierLimits() : nil))
        return (try arm64().prepare(linked.program, configuration: linked.engineConfiguration()), linked)
    }

    static func run(_ prepared: any PreparedProgram, _ linked: LinkedProgram) throws -> UInt64 {
        let run = try linked.makeRun(input: Array(repeating: 0, count: 64))
        return try prepared.run(run.input)
    }

    @Test(arguments: [true, false])
    func helpersRefuseWritesToReadOnlyMaps(_ verify: Bool) throws {
        let rodata = try makeMap(MapDefinition(name: ".rodata", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
                                               flags: [.readOnlyProgram, .mmapable]))
        let hash = try makeMap(MapDefinition(name: "ro_hash", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4,
                                             flags: [.readOnlyProgram]))
        try hash.update(key: [0, 0, 0, 0], value: [2, 0, 0, 0, 0, 0, 0, 0])
        for (index, helper) in [(0, 2), (1, 2), (1, 3)] {
            let prepared: (any PreparedProgram, LinkedProgram)
            do {
                prepared = try Self.prepare(LifetimePrograms.mapWrite(map: index, helper: helper), maps: [rodata, hash], verify: verify)
            } catch {
                continue // refused at load: as good
            }
            #expect(Int64(bitPattern: try Self.run(prepared.0, prepared.1)) == -Int64(Errno.EACCES), "map \(index), helper \(helper)")
        }
        #expect(try rodata.lookup(key: [0, 0, 0, 0]) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(try hash.lookup(key: [0, 0, 0, 0]) == [2, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func aStalePointerNeverReachesAnotherKeysValue() throws {
        let m = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1))
        let (prepared, linked) = try Self.prepare(LifetimePrograms.stalePointer, maps: [m], verify: true)
        for _ in 0..<5 {
            try m.update(key: [1, 0, 0, 0], value: [0x11, 0, 0, 0, 0, 0, 0, 0])
            #expect(try Self.run(prepared, linked) == 222)
        }
    }

    @Test func reservationsLeftOpenAreReleasedAtRunEnd() throws {
        let ring = try #require(try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0,
                                                          maxEntries: 4096)) as? RingBuffer)
        let (leaking, leakLinked) = try Self.prepare(LifetimePrograms.reserveAndLeave, maps: [ring], verify: false)
        let (submitting, goodLinked) = try Self.prepare(LifetimePrograms.reserveAndSubmit, maps: [ring], verify: false)
        var reserved = 0
        // A consumer drains between runs, as `bpfkit run` and embedders do.
        for _ in 0..<300 {
            reserved += Int(try Self.run(leaking, leakLinked))
            #expect(ring.consume().isEmpty)
        }
        #expect(reserved == 300)
        #expect(ring.outstandingReservations == 0)
        #expect(try Self.run(submitting, goodLinked) == 1)
        #expect(ring.consume() == [[77, 0, 0, 0, 0, 0, 0, 0]])
    }

    /// 20,000 changes of a slot, each to a freshly prepared target (or
    /// clearing it), with runs in between: results follow the slot, retired
    /// targets are released and their images unmapped (Unicorn used to abort
    /// after about 1,600 changes with every old image still mapped).
    @Test func twentyThousandSlotChanges() throws {
        let array = try #require(try makeMap(MapDefinition(name: "jmp_table", type: .programArray, keySize: 4, valueSize: 4,
                                                          maxEntries: 2)) as? ProgramArray)
        defer { array.removeAll() }
        let engine = arm64()
        func link(_ program: Program) throws -> LinkedProgram {
            try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [array],
                              options: LoadOptions(trace: { _ in }, verifierLimits: nil))
        }
        let callerLinked = try link(Code { Code.Item.tailCall(index: 0); Instruction.mov(.r0, 99); Instruction.exit }.program("caller"))
        let caller = try #require(try engine.prepare(callerLinked.program, configuration: callerLinked.engineConfiguration())
            as? Arm64EmulatedProgram)
        var peakLive = 0, peakMapped = 0
        for i in 0..<20_000 {
            let expected: UInt64
            if i % 5 == 4 {
                try array.clear(at: 0)
                expected = 99
            } else {
                let value = Int32(i % 1000)
                try array.set(try TailCallTargets.make(try link(Program([.mov(.r0, value), .exit], name: "t\(i)")), engine: engine), at: 0)
                expected = UInt64(value)
            }
            if i % 8 == 0 {
                let run = try callerLinked.makeRun(input: Array(repeating: 0, count: 64))
                #expect(try caller.run(run.input) == expected, "change \(i)")
            }
            if i >= 100 {
                peakLive = max(peakLive, caller.machine.liveImageCount)
                peakMapped = max(peakMapped, caller.machine.mappedImageCounts.max() ?? 0)
            }
        }
        // Retired targets wait only for runs in flight (other tests' too), never for good.
        #expect(peakLive < 1_000, "live images: the caller, the slot's target and the retired ones runs may still use (other suites' runs in flight hold some hundreds at most; without release all 20,000 stay, and Unicorn aborts near 1,600 mappings)")
        #expect(peakMapped < 1_000, "mapped images per engine")
    }
}
