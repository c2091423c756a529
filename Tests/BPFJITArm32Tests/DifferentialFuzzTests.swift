import BPFBackendTestKit
import BPFExecMemory
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import BPFTestSuite
import Testing

/// Random straight-line and forward-branching programs over every register
/// pairing the arm32 map has (resident r6–r8, slot-homed r0–r5 and r9, r10 as
/// a base), run on the JIT and on the interpreter: r0 at exit folds every
/// register, so any pair half lost on the way shows.
@Suite struct DifferentialFuzzTests {
    static let registers: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9]
    static let operations = ALUOperation.allCases
    static let immediates: [Int32] = [0, 1, 2, 7, 31, 32, 33, 63, 64, 255, 0x7fff_ffff, -1, -2, -32, -64, .min, 0x1234_5678]

    static func program(seed: UInt64) -> Program {
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

    @Test func randomProgramsMatchTheInterpreter() {
        let (count, failures) = BackendMatrix.randomDifferential(ParityTests.row, seeds: 1...300) { Self.program(seed: $0) }
        print("arm32 differential fuzz: \(count) programs, \(failures.count) differences")
        #expect(count > 250)
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test func packSlackHoldsTheArm32Trap() throws {
        #expect(TrapPattern.arm32.bytes == Arm32JIT.architecture.trap)
        let pack = ProgramPack(trap: .arm32, configuration: .init(placement: .lowest, name: "bpfkit-arm32-test-\(UInt32.random(in: 0...UInt32.max))"))
        let slot: PackSlot = try pack.allocate(size: 8, alignment: 4)
        try pack.copy([1, 2, 3, 4, 5, 6, 7, 8], into: slot)
        let unit = try pack.bytes(at: slot.address, count: 64)
        #expect(Array(unit[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Array(unit[8...]) == Array(repeating: TrapPattern.arm32.bytes, count: 14).flatMap { $0 })
        pack.free(slot)
    }
}
