import BPFBackendTestKit
import BPFISA
import BPFJITRISCV64
import BPFRuntime
import BPFTestSuite
import Testing

/// Random straight-line and forward-branching programs over every register
/// (r0–r9, r10 as a base; dst and src the same register too) with every ALU
/// operation, movsx, bswap, stack loads and stores and atomics, run on the
/// JIT (plain and compressed) and on the interpreter: r0 at exit folds
/// every register, so any lost or wrongly extended value shows.
@Suite struct DifferentialFuzzTests {
    static let registers: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9]
    static let immediates: [Int32] = [0, 1, 2, 7, 31, 32, 33, 63, 64, 255, 2047, 2048, -2048, -2049, 0x7fff_ffff, -1, -2, -32, -64, .min,
                                      0x1234_5678, 0x8000]

    static func program(seed: UInt64) -> Program {
        var rng = SplitMix(state: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        var body: [[Instruction]] = []
        for register in registers { body.append([.loadImmediate64(dst: register, .value(rng.next() >> (rng.next() % 64))), .immediate64Tail]) }
        for _ in 0..<48 {
            let dst = pick(registers), src = pick(registers), width: Width = rng.next() & 1 == 0 ? .w32 : .w64
            let operand: Operand = rng.next() % 3 == 0 ? .immediate(pick(immediates)) : .register(src)
            let slot = -8 * Int16(1 + rng.next() % 8)
            switch rng.next() % 10 {
            case 0...4: body.append([.alu(width, pick(ALUOperation.allCases), dst: dst, operand)])
            case 5:
                body.append([pick([.neg(width, dst: dst), .movsx(width, dst: dst, src: src, bits: pick(width == .w64 ? [8, 16, 32] : [8, 16])),
                                   .byteSwap(pick(ByteSwapKind.allCases), dst: dst, bits: pick([16, 32, 64]))])])
            case 6: body.append([.store(pick(AccessSize.allCases), dst: .r10, offset: slot, src: src)])
            case 7: body.append([pick([.load(pick(AccessSize.allCases), dst: dst, src: .r10, offset: slot),
                                       .loadSignExtend(pick([.byte, .half, .word]), dst: dst, src: .r10, offset: slot)])])
            case 8:
                let op = pick(AtomicOperation.all)
                body.append([.atomic(width, op, dst: .r10, offset: slot, src: src == .r0 && op == .cmpxchg ? .r1 : src)])
            default:
                body.append([.branch(width, pick(JumpCondition.allCases), dst: dst, operand, offset: Int16(1 + rng.next() % 3))])
            }
        }
        var instructions = body.flatMap { $0 }
        for (pc, instruction) in instructions.enumerated() {
            if case .branch(let w, let c, let d, let o, let offset) = instruction, pc + 1 + Int(offset) > instructions.count {
                instructions[pc] = .branch(w, c, dst: d, o, offset: Int16(instructions.count - pc - 1))
            }
        }
        for register in registers where register != .r0 {
            instructions.append(.alu(.w64, .mul, dst: .r0, .immediate(31)))
            instructions.append(.alu(.w64, .xor, dst: .r0, .register(register)))
        }
        instructions.append(.exit)
        return Program(instructions)
    }

    @Test func randomProgramsMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(ParityTests.row, seeds: 1...300) { Self.program(seed: $0) }
        print("RISC-V 64 differential fuzz: \(count) programs × \(ParityTests.row.configurations.count) configurations, \(failures.count) differences")
        #expect(count > 250)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }
}
