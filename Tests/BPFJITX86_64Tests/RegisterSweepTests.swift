import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFRuntime
import Testing

/// Division, modulo, shifts, multiplication and atomics with every pair of
/// registers (src == dst included, r0/r3/r4 which x86 uses implicitly): the
/// result and every other register must match the interpreter.
@Suite struct RegisterSweepTests {
    static let registers: [Register] = Array(Register.all.prefix(10))

    /// Loads distinct values into r0–r9, runs `body`, then folds all ten registers into r0.
    static func program(values: [UInt64], body: [Instruction]) -> [Instruction] {
        var program: [Instruction] = []
        for (k, register) in registers.enumerated() { program.append(.ld64(register, values[k])) }
        program += body
        for register in registers.dropFirst() {
            program.append(.alu(.w64, .mul, dst: .r0, .immediate(31)))
            program.append(.alu(.w64, .xor, dst: .r0, .register(register)))
        }
        return program + [.exit]
    }

    static let cornerValues: [[UInt64]] = [
        [0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff, 7, 0, 0x8000_0000, 0xffff_ffff, 3, 100, 1 << 40, 65],
        [12345, 0, 0xffff_ffff_ffff_fff9, 13, 0xffff_ffff_8000_0000, 64, 33, 2, 0x7fff_ffff, 0xffff_ffff_ffff_ffff],
    ]

    @Test(arguments: [ALUOperation.div, .sdiv, .mod, .smod, .lsh, .rsh, .arsh, .mul])
    func everyRegisterPair(_ operation: ALUOperation) {
        var mismatches: [String] = []
        for width in [Width.w64, .w32] {
            for dst in Self.registers {
                for src in Self.registers {
                    for values in Self.cornerValues {
                        let body: [Instruction] = [.alu(width, operation, dst: dst, .register(src))]
                        let both = bothEngines(Self.program(values: values, body: body))
                        if both.jit != both.interpreter { mismatches.append("\(operation) \(width) \(dst), \(src): \(both)") }
                    }
                }
                // Immediate forms, including the special divisors.
                for imm: Int32 in [0, 1, -1, 3, -7, 31, 63, 64, Int32.min] {
                    let body: [Instruction] = [.alu(width, operation, dst: dst, .immediate(imm))]
                    let both = bothEngines(Self.program(values: Self.cornerValues[0], body: body))
                    if both.jit != both.interpreter { mismatches.append("\(operation) \(width) \(dst), \(imm): \(both)") }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(5))")
    }

    @Test func atomicsWithEveryRegisterPair() {
        var mismatches: [String] = []
        for width in [Width.w64, .w32] {
            for operation in AtomicOperation.all {
                for dst in Self.registers {
                    for src in Self.registers {
                        // dst holds the input pointer (r1 on entry, copied before the values are loaded).
                        var values = Self.cornerValues[1]
                        values[dst.index] = 0
                        var body: [Instruction] = [.alu(.w64, .mov, dst: dst, .register(.r6))]
                        body.append(.atomic(width, operation, dst: dst, offset: 8, src: src))
                        body.append(.load(.double, dst: .r6, src: .r6, offset: 8))   // the memory, into the fold
                        var program: [Instruction] = [.alu(.w64, .mov, dst: .r6, .register(.r1))]
                        program += Self.program(values: values, body: [])
                        program.removeLast()
                        program.remove(at: 1 + 6)   // keep r6 = input pointer
                        program += body
                        for register in Self.registers.dropFirst() where register != dst {
                            program.append(.alu(.w64, .mul, dst: .r0, .immediate(31)))
                            program.append(.alu(.w64, .xor, dst: .r0, .register(register)))
                        }
                        program.append(.exit)
                        let memory: [UInt8] = (0..<16).map { UInt8(truncatingIfNeeded: $0 * 17 + 3) }
                        let both = bothEngines(program, memory: memory)
                        if both.jit != both.interpreter { mismatches.append("\(operation) \(width) \(dst), \(src): \(both)") }
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(5))")
    }

    @Test func thirtyTwoBitShiftByZeroClearsTheUpperHalf() {
        for operation in [ALUOperation.lsh, .rsh, .arsh] {
            let program: [Instruction] = [.ld64(.r0, 0xffff_ffff_ffff_ffff), .mov64(.r2, 0),
                                          .alu(.w32, operation, dst: .r0, .register(.r2)), .exit]
            let both = bothEngines(program)
            #expect(both.jit == .value(0xffff_ffff) && both.jit == both.interpreter, "\(operation): \(both)")
        }
    }
}
