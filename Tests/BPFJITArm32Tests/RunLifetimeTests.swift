import BPFEmulator
import BPFHelpers
import BPFKit
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// Tail-call targets retired by slot changes are released once no run is
/// in flight, and their images unmapped from the machine's engines, so
/// the emulator's mappings stay flat (runs are bracketed by `RunLifetime`).
@Suite struct RunLifetimeTests {
    @Test func twoThousandSlotChanges() throws {
        let array = try #require(try makeMap(MapDefinition(name: "jmp_table", type: .programArray, keySize: 4, valueSize: 4,
                                                          maxEntries: 2)) as? ProgramArray)
        defer { array.removeAll() }
        let engine = arm32()
        func link(_ program: Program) throws -> LinkedProgram {
            try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [array],
                              options: LoadOptions(trace: { _ in }, verifierLimits: nil))
        }
        let callerLinked = try link(Code { Code.Item.tailCall(index: 0); Instruction.alu(.w64, .mov, dst: .r0, .immediate(99)); Instruction.exit }.program("caller"))
        let caller = try #require(try engine.prepare(callerLinked.program, configuration: callerLinked.engineConfiguration())
            as? Arm32EmulatedProgram)
        var peakLive = 0, peakMapped = 0
        for i in 0..<2_000 {
            let expected: UInt64
            if i % 5 == 4 {
                try array.clear(at: 0)
                expected = 99
            } else {
                let value = Int32(i % 1000)
                try array.set(try TailCallTargets.make(try link(Program([.alu(.w64, .mov, dst: .r0, .immediate(value)), .exit], name: "t\(i)")), engine: engine), at: 0)
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
