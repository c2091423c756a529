// Compile time of real programs: `BPFJITBenchmark --compile FILE[:PROGRAM]...`
//
// Each FILE (a `.c` of bench/, compiled with clang -O2 -target bpf
// -mcpu=v3; an object; a conformance `.data` or `.s` file) is loaded and
// verified as `bpfkit bench` loads it, then prepared by the x86-64 JIT
// `--repeats N` times (default 201): the figure is the median time of one
// `prepare`, which is what the bench's compile column measures (the image
// placed in executable memory, ready to run). `--loop N` only prepares N
// times without timing each (for profilers). `--images DIR` writes each
// program's image, assembled at a fixed address with fixed host routine
// addresses, to DIR/NAME.bin, so two builds' images can be compared byte
// for byte. `--arch arm64` times the arm64 JIT under the emulator instead
// (`prepare`, as the bench's emulated column) beside its compile alone
// (`Arm64JIT.assemble` at a fixed address, no machine).
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFJITX86_64
import BPFKit
import BPFRuntime
#if canImport(Glibc)
import Glibc
#endif

func argument(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let k = arguments.firstIndex(of: name), k + 1 < arguments.count else { return nil }
    return arguments[k + 1]
}

func suiteCompile() throws {
    let arguments = CommandLine.arguments
    guard let start = arguments.firstIndex(of: "--compile") else { return }
    var files: [String] = []
    for item in arguments[(start + 1)...] {
        if item.hasPrefix("--") { break }
        files.append(item)
    }
    let repeats = argument("--repeats").flatMap { Int($0) } ?? 201
    let loop = argument("--loop").flatMap { Int($0) }
    let images = argument("--images")
    let arm64 = argument("--arch") == "arm64"
    let jit: any ExecutionEngine = arm64 ? Arm64JIT(execution: .emulated(.nearHelpers)) : X86_64JIT()
    var geometric = 0.0, counted = 0
    for item in files {
        let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
        let path = parts[0]
        let name = parts.count > 1 ? parts[1] : nil
        let label = name ?? String(path.split(separator: "/").last ?? "")
        let file: ProgramFile
        do {
            file = try ProgramFile.load(path: path, LoadRequest(programName: name, trace: { _ in }))
        } catch {
            print("\(label): load: \(error)")
            continue
        }
        let linked = file.linked
        if let images {
            let routines = X86_64Backend.HostRoutineAddresses(callHelper: 0x1111_2222_3333, checkAccess: 0x4444_5555_6666)
            do {
                let image = try X86_64JIT.assemble(linked.program, configuration: linked.engineConfiguration(),
                                                   at: 0x7700_0000_0000, routines: routines)
                let out = fopen("\(images)/\(label).bin", "wb")
                _ = image.bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, out) }
                fclose(out)
            } catch {
                print("\(label): assemble: \(error)")
            }
            continue
        }
        do {
            try file.object?.populateProgramArrays(for: jit)
            if let loop {
                for _ in 0..<loop {
                    _ = try jit.prepare(linked.program, configuration: linked.engineConfiguration())
                }
                continue
            }
            var samples: [Double] = []
            var prepared: (any PreparedProgram)?
            for _ in 0..<repeats {
                let time = try clock.measure {
                    prepared = try jit.prepare(linked.program, configuration: linked.engineConfiguration())
                }
                samples.append(nanoseconds(time))
            }
            samples.sort()
            let median = samples[samples.count / 2]
            let insns = linked.program.count
            if arm64 {
                var alone: [Double] = []
                var size = 0
                for _ in 0..<repeats {
                    let time = try clock.measure {
                        size = try Arm64JIT.assemble(linked.program, configuration: linked.engineConfiguration(), at: 0x10_0000).size
                    }
                    alone.append(nanoseconds(time))
                }
                alone.sort()
                print("\(label)\t\(insns) insns\t\(size) bytes\tprepare (emulated) median \(format(median / 1e3, 1)) µs\t"
                      + "compile alone median \(format(alone[alone.count / 2] / 1e3, 1)) µs")
                continue
            }
            let native = prepared as? NativeProgram
            print("\(label)\t\(insns) insns\t\(native?.image.size ?? 0) bytes\t\(native?.image.passes ?? 0) passes\t"
                  + "median \(format(median / 1e3, 1)) µs\tmin \(format(samples[0] / 1e3, 1)) µs\t"
                  + "\(format(median / 1e3 / Double(insns) * 1000, 0)) µs/1000")
            geometric += log(median / 1e3)
            counted += 1
        } catch {
            print("\(label): prepare: \(error)")
        }
    }
    if counted > 0, loop == nil, images == nil {
        print("geometric mean\t\(format(exp(geometric / Double(counted)), 1)) µs")
    }
    exit(0)
}
