import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The benchmark suite (`bench/*.c`) with full proofs — every access safe,
/// every run ending in time, registers written before read: the facts the
/// kernel's verifier established when it accepted each program. The image
/// must have no check and no guard, and return what the interpreter
/// returns; a program without calls must be no larger than the kernel's JIT
/// image (`bytes_jited` from docs/PERFORMANCE.md). Calls are not judged
/// here: their lowering (helper calls through the host routine, local calls
/// with a depth check) is larger than the kernel's whatever the proofs say.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the benchmark suite"))
struct BenchProofTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench")

    /// Program, source, function and the kernel's JIT image size.
    static let programs: [(name: String, source: String, function: String, kernelBytes: Int)] = [
        ("int_loop", "int_loop.c", "int_loop", 121), ("checksum", "checksum.c", "tcp_checksum", 366),
        ("flow_lookup", "flow_lookup.c", "flow_lookup", 369), ("fnv1a", "fnv1a.c", "fnv1a", 102),
        ("crc32", "crc32.c", "crc32", 109), ("sort", "sort.c", "sort64", 2_204),
        ("local_calls", "local_calls.c", "local_calls", 196), ("tail_calls", "tail_calls.c", "pipeline", 240),
        ("map_updates", "map_updates.c", "map_updates", 319),
        ("bsort", "bsort.c", "bsort", 599), ("crc32_bitwise", "crc32_bitwise.c", "crc32_bitwise", 276),
        ("tokenizer", "tokenizer.c", "tokenizer", 345), ("matmul", "matmul.c", "matmul", 1_374),
    ]

    /// An Ethernet + IPv4 + TCP frame of `size` bytes (checksums not filled in).
    static func packet(_ size: Int) -> [UInt8] {
        var ip: [UInt8] = [0x45, 0, UInt8((size - 14) >> 8), UInt8((size - 14) & 0xff), 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        ip += [0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]
        let payload = (0..<(size - 54)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        return [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00] + ip + payload
    }

    static func load(_ source: String, _ function: String) throws -> LinkedProgram {
        try ProgramFile.load(path: suite.appendingPathComponent(source).path, LoadRequest(programName: function, trace: { _ in })).linked
    }

    static func proofs(_ program: Program) -> ProgramProofs { TestProofs.full(program, maxInstructions: 1_000_000) }

    /// With the map-helper facts as well (`TestProofs.fullWithMapCalls`).
    static func mapCallProofs(_ program: Program) -> ProgramProofs { TestProofs.fullWithMapCalls(program) }

    /// Proven map-helper calls: a plain call (or an inline array lookup) with
    /// no run context, site word or status test; the same results as the
    /// interpreter, maps included, run after run.
    @Test func provenMapCallsReturnWhatTheInterpreterReturns() throws {
        for (name, source, function, _) in Self.programs where ["flow_lookup", "map_updates"].contains(name) {
            for size in [64, 1_514] {
                let packet = Self.packet(size)
                func result(_ engine: some ExecutionEngine, proven: Bool) throws -> ([UInt64], [[UInt8]]) {
                    let linked = try Self.load(source, function)
                    var configuration = linked.engineConfiguration()
                    if proven { configuration.proofs = Self.mapCallProofs(linked.program) }
                    let prepared = try engine.prepare(linked.program, configuration: configuration)
                    var values: [UInt64] = []
                    for _ in 0..<3 { values.append(try prepared.run(try linked.makeRun(input: packet).input)) }
                    let maps = linked.maps.maps.flatMap { map in map.entries().flatMap { $0.key + $0.value } }
                    return (values, [maps])
                }
                let reference = try result(Interpreter(), proven: false)
                let proven = try result(X86_64JIT(), proven: true)
                #expect(proven.0 == reference.0, "\(name) over \(size) bytes: \(proven.0) vs \(reference.0)")
                #expect(proven.1 == reference.1, "\(name) over \(size) bytes: map contents differ")
            }
        }
        for (name, source, function, _) in Self.programs where ["flow_lookup", "map_updates"].contains(name) {
            let linked = try Self.load(source, function)
            var configuration = linked.engineConfiguration()
            configuration.proofs = Self.mapCallProofs(linked.program)
            #expect(configuration.proofs!.provenHelperCalls > 0, "\(name)")
            let image = try X86_64JIT().compile(linked.program, configuration: configuration).image
            #expect(!image.statistics.usesRunContext, "\(name): proven calls need no run context")
        }
    }

    @Test func provenImagesAreNoLargerThanTheKernels() throws {
        var report = ["| program | kernel | checked | unchecked | proven |", "| --- | ---: | ---: | ---: | ---: |"]
        var larger: [String] = []
        for (name, source, function, kernel) in Self.programs {
            let linked = try Self.load(source, function)
            var configuration = linked.engineConfiguration()
            let checked = try X86_64JIT.assemble(linked.program, configuration: configuration, at: 0x1000_0000)
            let unchecked = try X86_64JIT.assemble(linked.program, configuration: configuration,
                                                   options: JITOptions(memoryChecking: .unchecked), at: 0x1000_0000)
            // The verifier's own proofs when the loader made them (they carry
            // the stack and helper-call facts too), else the hand-written ones.
            // Where the verifier does not yet prove everything the kernel's did
            // (checks or a guard left), the hand-written facts stand in for it.
            if configuration.proofs == nil { configuration.proofs = Self.proofs(linked.program) }
            var proven = try X86_64JIT.assemble(linked.program, configuration: configuration, at: 0x1000_0000)
            var note = ""
            if proven.statistics.checkedAccesses > 0 || proven.statistics.guardCharges > 0 {
                note = " (verifier: \(proven.statistics.checkedAccesses) checks, \(proven.statistics.guardCharges) guards left)"
                configuration.proofs = Self.proofs(linked.program)
                proven = try X86_64JIT.assemble(linked.program, configuration: configuration, at: 0x1000_0000)
            }
            report.append("| \(name) | \(kernel) | \(checked.size) | \(unchecked.size) | \(proven.size)\(note) |")
            #expect(proven.statistics.checkedAccesses == 0 && proven.statistics.guardCharges == 0, "\(name)")
            #expect(proven.size <= unchecked.size, "\(name): \(proven.size) > \(unchecked.size) unchecked")
            let calls = linked.program.instructions.contains { if case .call = $0 { true } else { false } }
            if proven.size > kernel, !calls { larger.append("\(name): \(proven.size) > \(kernel)") }
        }
        print(report.joined(separator: "\n"))
        #expect(larger.isEmpty, "larger than the kernel's: \(larger)")
    }

    /// The compare-exchanges of the sorts are conditional moves in the
    /// proven images (the results are checked against the interpreter
    /// below); bubble sort's select whose arm jumps back to the loop head
    /// among them.
    @Test func selectsOfTheSuiteBecomeConditionalMoves() throws {
        let disassembler = try NativeDisassembler(.x86_64)
        for (name, minimum) in [("sort", 2 * 63), ("bsort", 2)] {
            let (_, source, function, _) = Self.programs.first { $0.name == name }!
            let linked = try Self.load(source, function)
            var configuration = linked.engineConfiguration()
            configuration.proofs = Self.proofs(linked.program)
            let image = try X86_64JIT.assemble(linked.program, configuration: configuration, at: 0x1000_0000)
            let cmovs = disassembler.disassemble(image.bytes, address: 0).filter { $0.text.hasPrefix("cmov") }.count
            #expect(cmovs >= minimum, "\(name): \(cmovs) cmov")
        }
    }

    /// Every program but the tail-call pipeline (whose stages need their
    /// program array filled), proven and checked, run against the
    /// interpreter, each engine on a freshly loaded object (the programs
    /// update maps).
    @Test func provenProgramsReturnWhatTheInterpreterReturns() throws {
        for (name, source, function, _) in Self.programs where name != "tail_calls" {
            for size in [64, 128, 1_024, 1_514] {
                let packet = Self.packet(size)
                func result(_ engine: some ExecutionEngine, proven: Bool) throws -> (UInt64, [UInt8]) {
                    let linked = try Self.load(source, function)
                    var configuration = linked.engineConfiguration()
                    if proven { configuration.proofs = Self.proofs(linked.program) }
                    let prepared = try engine.prepare(linked.program, configuration: configuration)
                    var values: [UInt64] = []
                    for _ in 0..<3 {                      // maps carry state from run to run
                        let run = try linked.makeRun(input: packet)
                        values.append(try prepared.run(run.input))
                    }
                    return (values.reduce(0) { $0 &* 31 &+ $1 }, values.map { UInt8(truncatingIfNeeded: $0) })
                }
                let reference = try result(Interpreter(), proven: false)
                let proven = try result(X86_64JIT(), proven: true)
                // Checked: packet accesses take the stubs' dynamic-region checks
                // (inline in loops, the shared routines elsewhere).
                let checked = try result(X86_64JIT(), proven: false)
                #expect(proven == reference && checked == reference, "\(name) over \(size) bytes")
            }
        }
    }
}
