// A quick speed figure for the interpreter (its goal: FNV-1a over
// 1,500 bytes in under 35 µs). Build and run in release mode:
//
//     swift run -c release BPFInterpreterBench
//
// The full benchmark suite, with native and kernel comparisons, belongs to
// `bpfkit bench`; this measures only the interpreter's dispatch loop.
import BPFInterpreter
import BPFRuntime
import BPFTestSuite

let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
let memory = GuestMemory(bytes: bytes)
let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
let prepared = try Interpreter().prepare(SamplePrograms.fnv1a, configuration: EngineConfiguration())

guard try prepared.run(input) == SamplePrograms.fnv1a(bytes) else {
    fatalError("interpreter disagrees with the Swift FNV-1a")
}

let runsPerRepeat = 500, repeats = 15
let clock = ContinuousClock()
for _ in 0..<runsPerRepeat { _ = try prepared.run(input) }  // warm up
var perRun: [Double] = []
for _ in 0..<repeats {
    let elapsed = try clock.measure {
        for _ in 0..<runsPerRepeat { _ = try prepared.run(input) }
    }
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    perRun.append(nanoseconds / Double(runsPerRepeat))
}
perRun.sort()
let median = perRun[repeats / 2]
let instructions = 6 + 5 * bytes.count  // setup 5, loop 5 per byte, exit
/// Nanoseconds as microseconds with two decimals.
func micro(_ ns: Double) -> String {
    let hundredths = Int(ns / 10 + 0.5)
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
print("fnv1a over \(bytes.count) bytes: median \(micro(median)) µs per run (min \(micro(perRun.first!)), max \(micro(perRun.last!))), "
      + "\(repeats) repeats of \(runsPerRepeat) runs; \(instructions) instructions, \(micro(median / Double(instructions) * 1000)) ns each")
