// BPFJITArm64Benchmark: the arm64 JIT's code size and emulated work, beside
// the x86-64 JIT's code size (build with -c release).
//
//   swift run -c release BPFJITArm64Benchmark
//
// For FNV-1a over 1,500 bytes, a counting loop and the C examples (built
// with clang for cpu v3, run over a 256-byte UDP packet): BPF instructions,
// x86-64 and arm64 image bytes and bytes per BPF instruction, BPF
// instructions the interpreter executes per run, native instructions the
// emulated arm64 CPU executes per run (LSE and exclusive atomics; helper
// bodies not included), and arm64 compile time (median of several repeats).
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFRuntime
import BPFTestSuite
import Foundation

let clock = ContinuousClock()

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

/// Median of `repeats` timings of `body`, in microseconds.
func median(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<repeats { samples.append(microseconds(try clock.measure(body))) }
    samples.sort()
    return samples[samples.count / 2]
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

/// A program to measure: its code, configuration and one run's input.
struct Subject {
    let name: String
    let program: Program
    let configuration: EngineConfiguration
    let makeInput: () throws -> RunInput
}

/// BPF instructions the interpreter executes for one run: the smallest
/// instruction limit it completes under (binary search).
func executedInstructions(_ subject: Subject) throws -> UInt64 {
    var low: UInt64 = 0, high: UInt64 = 1 << 32
    while low < high {
        let limit = (low + high) / 2
        var configuration = subject.configuration
        configuration.instructionLimit = limit
        let prepared = try Interpreter().prepare(subject.program, configuration: configuration)
        do {
            _ = try prepared.run(try subject.makeInput())
            high = limit
        } catch ExecutionError.instructionLimit {
            low = limit + 1
        }
    }
    return low
}

// MARK: Subjects

let fnvInput = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
let fnvMemory = GuestMemory(bytes: fnvInput)
var subjects: [Subject] = [
    Subject(name: "fnv1a (1,500 B)", program: SamplePrograms.fnv1a, configuration: EngineConfiguration()) {
        RunInput(r1: fnvMemory.address, r2: UInt64(fnvMemory.count), regions: MemoryRegions([fnvMemory.region(.input)]))
    },
    // sum = Σ (i * 3) ^ (i >> 2) for i = 10,000 ... 1, in 32- and 64-bit arithmetic.
    Subject(name: "loop (10,000 iterations)", program: Program([
        .alu(.w64, .mov, dst: .r0, .immediate(0)), .alu(.w64, .mov, dst: .r1, .immediate(10_000)),
        .alu(.w64, .mov, dst: .r2, .register(.r1)), .alu(.w64, .mul, dst: .r2, .immediate(3)),
        .alu(.w64, .mov, dst: .r3, .register(.r1)), .alu(.w32, .rsh, dst: .r3, .immediate(2)),
        .alu(.w64, .xor, dst: .r2, .register(.r3)), .alu(.w64, .add, dst: .r0, .register(.r2)),
        .alu(.w64, .sub, dst: .r1, .immediate(1)), .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -8), .exit,
    ]), configuration: EngineConfiguration()) { RunInput(r1: 0, regions: MemoryRegions()) },
]

let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples")
/// An IPv4/UDP frame of 256 bytes with a valid header checksum: long enough for every example's full path.
let packet: [UInt8] = {
    var ip: [UInt8] = [0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
    let payload = (0..<222).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
    let total = ip.count + payload.count
    ip[2] = UInt8(total >> 8); ip[3] = UInt8(total & 0xff)
    var sum: UInt32 = 0
    for i in stride(from: 0, to: ip.count, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    ip[10] = UInt8(~sum >> 8 & 0xff); ip[11] = UInt8(~sum & 0xff)
    return [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00] + ip + payload
}()
if let compiler = try? CCompiler() {
    for name in ["xdp_proto_count", "xdp_swap_mac", "global_data", "ringbuf_events", "xdp_adjust", "atomics"] {
        do {
            let object = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-bench-\(getpid())-\(name).o")
            try Data(try compiler.compile(examples.appendingPathComponent("\(name).c").path, cpu: "v3")).write(to: object)
            defer { try? FileManager.default.removeItem(at: object) }
            let file = try ProgramFile.load(path: object.path, LoadRequest(trace: { _ in }))
            let linked = file.linked
            subjects.append(Subject(name: name, program: linked.program, configuration: linked.engineConfiguration()) {
                try linked.makeRun(input: packet).input
            })
        } catch {
            print("skipped \(name): \(error)")
        }
    }
} else {
    print("clang not found: the C examples are skipped")
}

// MARK: Measurements

print("arm64 JIT under Unicorn (\(EmulatedArchitecture.arm64.name), max CPU) beside the x86-64 JIT; sizes are whole images")
print("(prologue, body, stubs); \"insns\" are BPF instructions (a 64-bit load counts once); emulated counts exclude helper bodies.")
print("")
print("| program | insns | x86-64 B | B/insn | arm64 B | B/insn | arm64 ×x86 | BPF executed | arm64 executed (LSE) | per BPF | (exclusive) | arm64 compile µs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
let nearX86 = UInt(JITHostRoutines.callHelperAddress) & ~0xfff + 0x10_0000
for subject in subjects {
    do {
        let count = subject.program.instructions.filter { $0 != .immediate64Tail }.count
        let x86 = try X86_64JIT.assemble(subject.program, configuration: subject.configuration, at: nearX86)
        let lse = try Arm64JIT(options: Arm64Options(atomics: .lse), execution: .emulated(.nearHelpers))
            .emulate(subject.program, configuration: subject.configuration)
        let exclusive = try Arm64JIT(options: Arm64Options(atomics: .exclusive), execution: .emulated(.nearHelpers))
            .emulate(subject.program, configuration: subject.configuration)
        let executed = try executedInstructions(subject)
        let runLSE = try lse.execute(try subject.makeInput())
        let runExclusive = try exclusive.execute(try subject.makeInput())
        let compile = try median(9) {
            _ = try Arm64JIT.assemble(subject.program, configuration: subject.configuration, at: 0x10_0000_0000)
        }
        let bytesX86 = Double(x86.size) / Double(count), bytesArm = Double(lse.image.size) / Double(count)
        print("| \(subject.name) | \(count) | \(x86.size) | \(format(bytesX86)) | \(lse.image.size) | \(format(bytesArm)) | "
              + "\(format(Double(lse.image.size) / Double(x86.size), 2)) | \(executed) | \(runLSE.instructionCount) | "
              + "\(format(Double(runLSE.instructionCount) / Double(executed), 2)) | \(runExclusive.instructionCount) | \(format(compile)) |")
    } catch {
        print("| \(subject.name) | failed: \(error) |")
    }
}
