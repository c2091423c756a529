import BPFISA
import BPFRuntime

/// `ProgramProofs` for engine tests, made (through the package-only
/// initialiser) for programs where the test knows the facts hold: BPFKit's
/// verifier is the only maker of proofs outside tests.
public enum TestProofs {
    /// Proofs of `program` that every load, store and atomic is safe, that
    /// every run ends within `maxInstructions`, and (by default) that
    /// registers are written before they are read.
    public static func full(_ program: Program, maxInstructions: UInt64 = 1_000_000,
                            registersInitialized: Bool = true, stackReadsInitialized: Bool = false,
                            stackDepth: Int? = nil) -> ProgramProofs {
        make(program, terminates: true, maxInstructions: maxInstructions, registersInitialized: registersInitialized,
             stackReadsInitialized: stackReadsInitialized, stackDepth: stackDepth)
    }

    /// Proofs of `program` with the given facts; `safe` picks the accesses
    /// (by slot) to call safe, all of them by default; `stackReadsInitialized`
    /// and `stackDepth` as `ProgramProofs` has them (none by default).
    public static func make(_ program: Program, safe: (Int, Instruction) -> Bool = { _, _ in true }, terminates: Bool,
                            maxInstructions: UInt64, registersInitialized: Bool, stackReadsInitialized: Bool = false,
                            stackDepth: Int? = nil, helperCalls: [Int: HelperCallProof] = [:]) -> ProgramProofs {
        let flags = program.instructions.enumerated().map { pc, instruction in
            switch instruction {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic: safe(pc, instruction)
            default: false
            }
        }
        return ProgramProofs(instructions: program.instructions, safeAccesses: flags, terminates: terminates,
                             maxInstructions: maxInstructions, initializesRegistersBeforeUse: registersInitialized,
                             stackReadsInitialized: stackReadsInitialized, stackDepth: stackDepth, helperCalls: helperCalls)
    }

    /// Full proofs (`full`) plus, for every helper call of `ids`, the map
    /// handle of the nearest `r1 = imm64` before it in straight-line code and
    /// in-bounds memory arguments: what the kernel's verifier establishes
    /// for programs it accepts (the benchmark suite), written by hand for
    /// tests of what engines do with such facts.
    public static func fullWithMapCalls(_ program: Program, maxInstructions: UInt64 = 1_000_000,
                                        ids: Set<Int32> = [1, 2, 3]) -> ProgramProofs {
        var targets = Set<Int>()
        for (pc, instruction) in program.instructions.enumerated() {
            if let target = instruction.target(at: pc) { targets.insert(target) }
        }
        var calls: [Int: HelperCallProof] = [:]
        for (pc, instruction) in program.instructions.enumerated() {
            guard case .call(.helper(let id)) = instruction, ids.contains(id) else { continue }
            var k = pc - 1
            while k >= 0 {
                if case .loadImmediate64(.r1, .value(let handle)) = program.instructions[k] {
                    calls[pc] = HelperCallProof(mapHandle: handle, memoryArgumentsInBounds: true)
                    break
                }
                if targets.contains(k + 1) && k + 1 != pc { break }
                let other = program.instructions[k]
                if other.writesRegister == .r1 || other.target(at: k) != nil { break }
                if case .call = other { break }
                if case .exit = other { break }
                k -= 1
            }
        }
        return make(program, terminates: true, maxInstructions: maxInstructions, registersInitialized: true, helperCalls: calls)
    }

    /// Whether every path through `program` writes each register before it
    /// reads it, the registers in `given` (bit n: rN) being set at entry: a
    /// must-write dataflow over the slots. Programs with calls get false (a
    /// helper's reads depend on its prototype; this stays conservative).
    public static func writesBeforeReads(_ program: Program, given: UInt16 = 1 << 1 | 1 << 2 | 1 << 10) -> Bool {
        let instructions = program.instructions
        var written = [UInt16?](repeating: nil, count: instructions.count)
        var work = [0]
        written[0] = given
        while let pc = work.popLast() {
            let instruction = instructions[pc]
            if case .call = instruction { return false }
            guard let state = written[pc], instruction.readRegisters & ~state == 0 else { return false }
            let after = state | (instruction.writesRegister.map { 1 << $0.rawValue } ?? 0)
            for next in instruction.successors(at: pc) where next < instructions.count {
                let merged = written[next].map { $0 & after } ?? after
                if merged != written[next] {
                    written[next] = merged
                    work.append(next)
                }
            }
        }
        return true
    }
}

extension Instruction {
    /// One bit per register the instruction reads (bit n for rN); helper
    /// calls' arguments are not listed.
    var readRegisters: UInt16 {
        func bit(_ register: Register) -> UInt16 { 1 << register.rawValue }
        switch self {
        case .alu(_, .mov, _, .register(let src)), .movsx(_, _, let src, _), .load(_, _, let src, _),
             .loadSignExtend(_, _, let src, _):
            return bit(src)
        case .alu(_, .mov, _, .immediate), .loadImmediate64, .immediate64Tail, .jump, .jumpLong, .call(.helper),
             .call(.local), .call(.kfunc):
            return 0
        case .alu(_, _, let dst, .register(let src)), .branch(_, _, let dst, .register(let src), _),
             .store(_, let dst, _, let src):
            return bit(dst) | bit(src)
        case .alu(_, _, let dst, .immediate), .branch(_, _, let dst, .immediate, _), .neg(_, let dst),
             .byteSwap(_, let dst, _), .storeImmediate(_, let dst, _, _):
            return bit(dst)
        case .atomic(_, let operation, let dst, _, let src):
            return bit(dst) | bit(src) | (operation == .cmpxchg ? bit(.r0) : 0)
        case .call(.register(let register)):
            return bit(register)
        case .exit:
            return bit(.r0)
        }
    }
}
