import BPFISA
import BPFRuntime
import BPFTestSuite

/// Random straight-line and forward-branching programs over every register
/// and every pairing a 32-bit backend's map has (registers resident in host
/// registers, homed in stack slots, r10 as a base; dst and src the same
/// register too), run on every configuration and on the interpreter of the
/// row's byte order: r0 at exit folds every register, so any register (or
/// half of a register pair) lost on the way shows.
public enum RegisterPairFuzz {
    public static let registers: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9]
    static let operations = ALUOperation.allCases
    static let immediates: [Int32] = [0, 1, 2, 7, 31, 32, 33, 63, 64, 255, 0x7fff_ffff, -1, -2, -32, -64, .min, 0x1234_5678]

    public static func program(seed: UInt64) -> Program {
        var rng = SplitMix(state: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        var body: [[Instruction]] = []
        for register in registers { body.append([.loadImmediate64(dst: register, .value(rng.next())), .immediate64Tail]) }
        for _ in 0..<48 {
            let dst = pick(registers), src = pick(registers), width: Width = rng.next() & 1 == 0 ? .w32 : .w64
            let operand: Operand = rng.next() % 3 == 0 ? .immediate(pick(immediates)) : .register(src)
            let slot = -8 * Int16(1 + rng.next() % 8)
            switch rng.next() % 10 {
            case 0...4: body.append([.alu(width, pick(operations), dst: dst, operand)])
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
                // A forward branch over the next 1–3 instructions (placed once the body is built).
                body.append([.branch(width, pick(JumpCondition.allCases), dst: dst, operand, offset: Int16(1 + rng.next() % 3))])
            }
        }
        var instructions = body.flatMap { $0 }
        // Branch offsets count slots; clamp those that would jump past the fold.
        for (pc, instruction) in instructions.enumerated() {
            if case .branch(let w, let c, let d, let o, let offset) = instruction, pc + 1 + Int(offset) > instructions.count {
                instructions[pc] = .branch(w, c, dst: d, o, offset: Int16(instructions.count - pc - 1))
            }
        }
        // Fold every register into r0 with a rotate-free mix.
        for register in registers where register != .r0 {
            instructions.append(.alu(.w64, .mul, dst: .r0, .immediate(31)))
            instructions.append(.alu(.w64, .xor, dst: .r0, .register(register)))
        }
        instructions.append(.exit)
        return Program(instructions)
    }

    static func check(_ row: BackendRow, seeds: ClosedRange<UInt64>) -> BackendCheckReport {
        let (count, failures) = BackendMatrix.randomDifferential(row, seeds: seeds) { program(seed: $0) }
        return BackendCheckReport(summary: "register-pair differential fuzz on \(row.name): \(count) programs, \(failures.count) differences",
                                  failures: failures + (count * 6 > seeds.count * 5 ? [] : ["only \(count) of \(seeds.count) seeds gave a valid program"]))
    }
}
