// BPFJITBenchmark: figures for the x86-64 JIT (build with -c release).
//
//   swift run -c release BPFJITBenchmark
//
// Compile throughput for programs of 1k, 10k and 100k instructions, the time
// per call of `r0 = 42; exit` through the Swift fast path, and the run time
// of a counting loop and of FNV-1a over 1,500 bytes on the interpreter and
// the JIT. Every figure is the median of several repeats.
import BPFExecMemory
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
#if canImport(Glibc)
import Glibc
#endif

let clock = ContinuousClock()

func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

/// Median of `repeats` timings of `body`, in nanoseconds.
func median(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<repeats { samples.append(nanoseconds(try clock.measure(body))) }
    samples.sort()
    return samples[samples.count / 2]
}

func format(_ value: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return "\(rounded)"
}

/// A deterministic program of `count` slots with the instruction mix of
/// compiled C (clang -O2 BPF output is mostly moves, adds, masks, loads,
/// stores and branches): about 30% register ALU, 25% immediate ALU, 15%
/// loads, 10% stores, 15% forward branches, 5% multiplication, division and
/// shifts by a register.
func syntheticProgram(_ count: Int) -> Program {
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    let registers: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9]
    var instructions: [Instruction] = registers.map { .alu(.w64, .mov, dst: $0, .immediate(Int32($0.index))) }
    let registerOperations: [ALUOperation] = [.add, .sub, .or, .and, .xor, .mov]
    let immediateOperations: [ALUOperation] = [.add, .and, .lsh, .rsh, .mov]
    while instructions.count < count - 2 {
        let r = next()
        let dst = registers[Int(r % 10)], src = registers[Int(r / 10 % 10)]
        let pick = Int(r / 100 % 20)
        let width: Width = r & (1 << 40) == 0 ? .w64 : .w32
        switch pick {
        case 0..<6:
            instructions.append(.alu(width, registerOperations[Int(r / 2000 % 6)], dst: dst, .register(src)))
        case 6..<11:
            instructions.append(.alu(width, immediateOperations[Int(r / 2000 % 5)], dst: dst,
                                     .immediate(Int32(truncatingIfNeeded: r >> 32) % 64)))
        case 11..<14:
            instructions.append(.load(.double, dst: dst, src: .r10, offset: -8 * Int16(1 + r / 2000 % 32)))
        case 14, 15:
            instructions.append(.store(.double, dst: .r10, offset: -8 * Int16(1 + r / 2000 % 32), src: src))
        case 16, 17, 18:
            let room = count - 2 - instructions.count
            instructions.append(.branch(width, [.eq, .ne, .gt, .sgt][Int(r / 2000 % 4)], dst: dst, .register(src),
                                        offset: Int16(min(Int(r / 5000 % 24), max(room - 1, 0)))))
        default:
            let operation: ALUOperation = [.mul, .div, .lsh, .rsh][Int(r / 2000 % 4)]
            instructions.append(.alu(.w64, operation, dst: dst, .register(src)))
        }
    }
    return Program(instructions + [.alu(.w64, .mov, dst: .r0, .immediate(0)), .exit])
}

let fnv1a: [Instruction] = [
    .loadImmediate64(dst: .r0, .value(0xcbf2_9ce4_8422_2325)),
    .loadImmediate64(dst: .r4, .value(0x0000_0100_0000_01b3)),
    .alu(.w64, .mov, dst: .r3, .register(.r1)), .alu(.w64, .add, dst: .r3, .register(.r2)),
    .branch(.w64, .ge, dst: .r1, .register(.r3), offset: 5),
    .load(.byte, dst: .r5, src: .r1, offset: 0),
    .alu(.w64, .xor, dst: .r0, .register(.r5)),
    .alu(.w64, .mul, dst: .r0, .register(.r4)),
    .alu(.w64, .add, dst: .r1, .immediate(1)),
    .jump(offset: -6),
    .exit,
]

/// r0 = sum of 1...r1 in a loop.
let countingLoop: [Instruction] = [
    .alu(.w64, .mov, dst: .r0, .immediate(0)),
    .alu(.w64, .add, dst: .r0, .register(.r1)),
    .alu(.w64, .sub, dst: .r1, .immediate(1)),
    .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3),
    .exit,
]

do {
    try suiteCompile()
    print("BPFJITBenchmark (x86-64 JIT), medians")
    let jit = X86_64JIT()
    let uncheckedJIT = X86_64JIT(options: JITOptions(memoryChecking: .unchecked))

    // Compile throughput.
    for size in [1_000, 10_000, 100_000] {
        let program = syntheticProgram(size)
        var image: NativeProgram?
        let repeats = CommandLine.arguments.contains("--compile-only") ? 41 : size >= 100_000 ? 7 : 21
        let time = try median(repeats) { image = try jit.compile(program) }
        let perSecond = Double(program.count) / (time / 1e9)
        print("compile \(size) instructions: \(format(time / 1e6, 2)) ms, \(format(perSecond / 1e6, 2)) M instructions/s, "
              + "image \(image!.image.size) bytes (\(format(Double(image!.image.size) / Double(program.count), 2)) bytes/insn), \(image!.image.passes) passes")
    }

    if CommandLine.arguments.contains("--compile-only") { exit(0) }

    // Trivial call through the fast path.
    let trivial = try jit.compile(Program([.alu(.w64, .mov, dst: .r0, .immediate(42)), .exit]))
    let function = trivial.function
    let calls = 10_000_000
    var sink: UInt64 = 0
    let callTime = try median(7) {
        for i in 0..<calls { sink &+= try function(UInt64(i), 0) }
    }
    print("call of `r0 = 42; exit` (fast path): \(format(callTime / Double(calls), 2)) ns, image \(trivial.image.size) bytes")
    let runTime = try median(7) {
        for _ in 0..<1_000_000 { sink &+= try trivial.run(RunInput(r1: 0, regions: MemoryRegions())) }
    }
    print("call of `r0 = 42; exit` (PreparedProgram.run): \(format(runTime / 1e6, 2)) ns")

    // Compute programs on both engines.
    let bytes = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    let memory = GuestMemory(bytes: bytes)
    let input = RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))
    let loopInput = RunInput(r1: 1_000_000, regions: MemoryRegions())
    let interpreter = Interpreter()
    // Proofs as the verifier would make them for these inputs: every access
    // safe, the run's length bounded (6 instructions a byte, 3 an iteration),
    // registers written before read.
    let runs: [(String, [Instruction], RunInput, UInt64)] = [("FNV-1a over 1,500 bytes", fnv1a, input, 6 * 1_500 + 10),
                                                             ("loop of 1,000,000 iterations", countingLoop, loopInput, 3_000_010)]
    for (name, instructions, runInput, steps) in runs {
        let program = Program(instructions)
        let interpreted = try interpreter.prepare(program, configuration: EngineConfiguration())
        let checked = try jit.compile(program)
        let unchecked = try uncheckedJIT.compile(program)
        let proofs = ProgramProofs(instructions: program.instructions, safeAccesses: program.instructions.map {
            if case .load = $0 { true } else { false }
        }, terminates: true, maxInstructions: steps, initializesRegistersBeforeUse: true)
        let proven = try jit.compile(program, configuration: EngineConfiguration(proofs: proofs))
        let expected = try interpreted.run(runInput)
        let checkedResult = try checked.run(runInput), uncheckedResult = try unchecked.run(runInput)
        let provenResult = try proven.run(runInput)
        precondition(checkedResult == expected && uncheckedResult == expected && provenResult == expected, "engines disagree")
        let repeats = 101
        let inner = name.hasPrefix("FNV") ? 100 : 1
        let tInterpreter = try median(repeats / 4) { for _ in 0..<inner { sink &+= try interpreted.run(runInput) } } / Double(inner)
        let tChecked = try median(repeats) { for _ in 0..<inner { sink &+= try checked.run(runInput) } } / Double(inner)
        let tUnchecked = try median(repeats) { for _ in 0..<inner { sink &+= try unchecked.run(runInput) } } / Double(inner)
        let tProven = try median(repeats) { for _ in 0..<inner { sink &+= try proven.run(runInput) } } / Double(inner)
        print("\(name): interpreter \(format(tInterpreter / 1e3, 2)) µs, JIT checked \(format(tChecked / 1e3, 2)) µs "
              + "(image \(checked.image.size) bytes), JIT unchecked \(format(tUnchecked / 1e3, 2)) µs (image \(unchecked.image.size) bytes), "
              + "JIT with proofs \(format(tProven / 1e3, 2)) µs (image \(proven.image.size) bytes)")
    }
    if sink == 0x1234_5678 { print("") }
} catch {
    print("benchmark failed: \(error)")
}

// Defence in depth: what zeroing a BPF stack the verifier proved is never
// read before it is written costs per run (`JITOptions.provenStackClearLimit`),
// for stacks of 16 bytes to 4 KiB. The program passes a pointer to its
// stack around (so only a proof, not the JIT's own analysis, says the reads
// are initialized), writes a word at the bottom and reads it back.
do {
    var sink: UInt64 = 0
    for size in [16, 64, 256, 512, 4_096] {
        let depth = min(size, 512)
        var instructions: [Instruction] = [
            .alu(.w64, .mov, dst: .r2, .register(.r10)), .alu(.w64, .add, dst: .r2, .immediate(Int32(-depth))),
            .storeImmediate(.double, dst: .r2, offset: 0, imm: 7), .load(.double, dst: .r0, src: .r2, offset: 0),
        ]
        if size > 512 {
            // A recursive local call: the fixed scheme's eight frames.
            instructions += [.call(.local(offset: 1)), .exit,
                             .alu(.w64, .mov, dst: .r0, .immediate(1)),
                             .branch(.w64, .ne, dst: .r1, .immediate(12_345), offset: 1), .call(.local(offset: -3)), .exit]
        } else {
            instructions.append(.exit)
        }
        let program = Program(instructions)
        let safe = program.instructions.map { $0.accessBase != nil }
        let proofs = ProgramProofs(instructions: program.instructions, safeAccesses: safe, terminates: true, maxInstructions: 16,
                                   initializesRegistersBeforeUse: true, stackReadsInitialized: true,
                                   stackDepth: depth)
        var times: [Double] = []
        var cleared: [Int] = []
        for limit in [0, Int.max] {
            let compiled = try X86_64JIT(options: JITOptions(provenStackClearLimit: limit))
                .compile(program, configuration: EngineConfiguration(proofs: proofs))
            let f = compiled.function
            sink &+= try f()
            cleared.append(compiled.image.statistics.clearedStackBytes)
            times.append(try median(101) { for _ in 0..<1_000 { sink &+= try f() } } / 1_000)
        }
        print("proven stack of \(size) bytes: \(format(times[0], 2)) ns a run trusting the proof, "
              + "\(format(times[1], 2)) ns clearing \(cleared[1]) bytes (+\(format(times[1] - times[0], 2)) ns)")
    }
    if sink == 0x1234_5678 { print("") }
} catch {
    print("benchmark failed: \(error)")
}
