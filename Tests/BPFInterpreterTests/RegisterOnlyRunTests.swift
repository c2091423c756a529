import BPFISA
@testable import BPFInterpreter
import BPFRuntime
import Testing

/// Programs that touch nothing but r0–r9 run without a machine
/// (`InterpretedProgram.runRegistersOnly`). That entry must give exactly
/// what the general path gives — the same r0, the same error at the same
/// slot — and must refuse every program that needs more than registers.
/// The general path (`runGenerally`) is the reference here.
@Suite struct RegisterOnlyRunTests {
    private let memory = GuestMemory(count: 16)
    private var input: RunInput { RunInput(r1: memory.address, r2: 16, regions: MemoryRegions([memory.region(.input)])) }

    private func prepare(_ instructions: [Instruction], limit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                         helpers: HelperRegistry = HelperRegistry()) throws -> InterpretedProgram {
        let prepared = try Interpreter().prepare(Program(instructions),
                                                 configuration: EngineConfiguration(helpers: helpers, instructionLimit: limit))
        return try #require(prepared as? InterpretedProgram)
    }

    private func outcome(_ body: () throws(ExecutionError) -> UInt64) -> Result<UInt64, ExecutionError> {
        do throws(ExecutionError) { return .success(try body()) } catch { return .failure(error) }
    }

    /// Runs `instructions` every way a run can go and checks they all agree
    /// with the general path; returns that result. The program must take the
    /// register-only entry.
    @discardableResult
    private func agree(_ instructions: [Instruction], limit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> Result<UInt64, ExecutionError> {
        let program = try prepare(instructions, limit: limit)
        #expect(program.registersOnly, "\(instructions)", sourceLocation: sourceLocation)
        let general = outcome { () throws(ExecutionError) in try program.runGenerally(input) }
        let direct = outcome { () throws(ExecutionError) in try program.runRegistersOnly(r1: input.r1, r2: input.r2) }
        let prepared = outcome { () throws(ExecutionError) in try program.run(input) }
        let site = try #require(InterpreterRunSite(program, input: input))
        let onSite = outcome { () throws(ExecutionError) in try site.run() }
        let again = outcome { () throws(ExecutionError) in try site.run() }
        for (path, result) in [("runRegistersOnly", direct), ("run", prepared), ("run site", onSite), ("run site again", again)] {
            #expect(result == general, "\(path): \(instructions)", sourceLocation: sourceLocation)
        }
        return general
    }

    private static let values: [UInt64] = [
        0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0x1234, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000,
        0x8000_0000_0000_0000, 0x7fff_ffff_ffff_ffff, UInt64(bitPattern: -1), UInt64(bitPattern: -2),
        UInt64(bitPattern: -7), 63, 64, 65, 0x0123_4567_89ab_cdef,
    ]
    private static let immediates: [Int32] = [0, 1, -1, 3, -7, 31, 32, 63, 64, .max, .min, 0x1234]

    /// Every ALU operation, both widths, register and immediate operands,
    /// over values at the edges (zero divisors, shifts past the width,
    /// signed minimum by -1).
    @Test func aluOperationsMatchTheGeneralPath() throws {
        for operation in ALUOperation.allCases {
            for width in [Width.w64, .w32] {
                for a in Self.values {
                    for b in Self.values {
                        try agree([Asm.lddw(.r3, a), Asm.lddw(.r4, b), .alu(width, operation, dst: .r3, .register(.r4)),
                                   Asm.mov(.r0, .r3), .exit])
                    }
                    for k in Self.immediates {
                        try agree([Asm.lddw(.r5, a), .alu(width, operation, dst: .r5, .immediate(k)), Asm.mov(.r0, .r5), .exit])
                    }
                }
            }
        }
    }

    /// The other register operations: negation, sign extension, byte swaps.
    @Test func unaryOperationsMatchTheGeneralPath() throws {
        for a in Self.values {
            var programs: [[Instruction]] = [
                [Asm.lddw(.r2, a), .neg(.w64, dst: .r2), Asm.mov(.r0, .r2), .exit],
                [Asm.lddw(.r2, a), .neg(.w32, dst: .r2), Asm.mov(.r0, .r2), .exit],
            ]
            for bits: UInt8 in [8, 16, 32] {
                programs.append([Asm.lddw(.r6, a), .movsx(.w64, dst: .r0, src: .r6, bits: bits), .exit])
                if bits < 32 { programs.append([Asm.lddw(.r6, a), .movsx(.w32, dst: .r0, src: .r6, bits: bits), .exit]) }
            }
            for kind in ByteSwapKind.allCases {
                for bits: UInt8 in [16, 32, 64] {
                    programs.append([Asm.lddw(.r0, a), .byteSwap(kind, dst: .r0, bits: bits), .exit])
                }
            }
            for program in programs { try agree(program) }
        }
    }

    /// Every condition, both widths, both operand forms: r0 says whether it jumped.
    @Test func jumpsMatchTheGeneralPath() throws {
        for condition in JumpCondition.allCases {
            for width in [Width.w64, .w32] {
                for a in Self.values {
                    for b in Self.values {
                        let result = try agree([Asm.lddw(.r7, a), Asm.lddw(.r8, b), Asm.mov(.r0, 1),
                                                .branch(width, condition, dst: .r7, .register(.r8), offset: 1),
                                                Asm.mov(.r0, 0), .exit])
                        #expect(result == .success(condition.holds(a, b, width: width) ? 1 : 0))
                    }
                    for k in Self.immediates {
                        try agree([Asm.lddw(.r7, a), Asm.mov(.r0, 1), .branch(width, condition, dst: .r7, .immediate(k), offset: 1),
                                   Asm.mov(.r0, 0), .exit])
                    }
                }
            }
        }
    }

    /// r1 and r2 arrive as the general path gives them; the other registers start at zero.
    @Test func entryRegistersMatchTheGeneralPath() throws {
        try agree([Asm.mov(.r0, .r1), Asm.alu64(.xor, .r0, .r2), .exit])
        for register in [Register.r0, .r3, .r4, .r5, .r6, .r7, .r8, .r9] {
            #expect(try agree([Asm.mov(.r0, register), .exit]) == .success(0))
        }
    }

    /// Loops with the fused sequences (`mov; add`, `add; jne`, `mov; add;
    /// jgt`), run to the end and stopped by every instruction limit on the
    /// way: the same result, or the same error at the same slot.
    @Test func instructionLimitStopsAtTheSameSlot() throws {
        let programs: [[Instruction]] = [
            // r3 = r1 + 5 ten times over, counting r4 up to 10.
            [Asm.mov(.r4, 0), Asm.mov(.r3, .r1), Asm.alu64(.add, .r3, 5), Asm.mov(.r5, .r3), Asm.alu64(.add, .r5, .r4),
             Asm.alu64(.add, .r4, 1), Asm.jmp(.ne, .r4, 10, -6), Asm.mov(.r0, .r5), .exit],
            // The bounds-check shape: r6 = r9 + 4; if r6 > r8 leave; r9 counts up.
            [Asm.lddw(.r8, 20), Asm.mov(.r9, 0), Asm.mov(.r6, .r9), Asm.alu64(.add, .r6, 4), Asm.jmp(.gt, .r6, .r8, 2),
             Asm.alu64(.add, .r9, 1), .jump(offset: -5), Asm.mov(.r0, .r9), .exit],
        ]
        for program in programs {
            guard case .success = try agree(program) else { Issue.record("\(program) failed"); continue }
            var stops = 0
            for limit in UInt64(1)...80 {
                if case .failure(.instructionLimit) = try agree(program, limit: limit) { stops += 1 }
            }
            #expect(stops > 10, "\(program)")
        }
        // A loop that never ends stops at the limit.
        #expect(try agree([Asm.mov(.r0, 0), Asm.alu64(.add, .r0, 1), .jump(offset: -2), .exit], limit: 1000)
                == .failure(.instructionLimit(pc: 2, limit: 1000)))
    }

    /// Programs that need more than registers go the general way: memory,
    /// the stack, calls, r10, what cannot run. The last one shows why r10 is
    /// refused: it is the stack's address, which this entry does not have.
    @Test func refusesProgramsThatNeedMoreThanRegisters() throws {
        let seven = Helper(id: 1, name: "seven", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ in 7 }
        let helpers = HelperRegistry([seven])
        let refused: [(String, [Instruction], UInt64?)] = [
            ("a load", [.load(.byte, dst: .r0, src: .r1, offset: 0), .exit], 0),
            ("a store", [.storeImmediate(.byte, dst: .r1, offset: 0, imm: 1), Asm.mov(.r0, 2), .exit], 2),
            ("the stack", [.store(.double, dst: .r10, offset: -8, src: .r1), .load(.double, dst: .r0, src: .r10, offset: -8),
                           Asm.alu64(.sub, .r0, .r1), .exit], 0),
            ("an atomic", [.atomic(.w64, .add(fetch: false), dst: .r1, offset: 0, src: .r2), Asm.mov(.r0, 3), .exit], 3),
            ("a helper call", [.call(.helper(1)), .exit], 7),
            ("an unknown helper", [.call(.helper(99)), .exit], nil),
            ("a local call", [.call(.local(offset: 1)), .exit, Asm.mov(.r0, 4), .exit], 4),
            ("r10 read", [Asm.mov(.r0, 1), Asm.jmp(.ne, .r10, 0, 1), Asm.mov(.r0, 0), .exit], 1),
        ]
        for (name, instructions, expected) in refused {
            let program = try prepare(instructions, helpers: helpers)
            #expect(!program.registersOnly, "\(name)")
            let site = try #require(InterpreterRunSite(program, input: input))
            let onSite = outcome { () throws(ExecutionError) in try site.run() }
            let general = outcome { () throws(ExecutionError) in try program.runGenerally(input) }
            #expect(onSite == general, "\(name)")
            if let expected {
                #expect(general == .success(expected), "\(name)")
            } else {
                #expect(general == .failure(.unknownHelper(pc: 0, id: 99)), "\(name)")
            }
        }
    }
}
