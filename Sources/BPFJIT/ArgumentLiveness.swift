import BPFISA

/// Which of r1–r5 a helper call must keep.
///
/// BPF lets a helper clobber r1–r5, but the interpreter keeps them, so the
/// JITs keep them too, as far as anyone could tell: a register is pushed
/// around a call only if some path from the call reads it before writing
/// it. A backward liveness analysis over the program's control flow
/// (classic iterative dataflow, bit sets of registers) answers that:
///
/// - ALU, loads, stores and atomics read and write the registers they name;
/// - helper calls read r1–r5 and write r0; a call through a register also
///   reads that register; local calls read r1–r5 and write r0 only (what
///   the callee leaves in r1–r5 is what the caller then sees, so nothing
///   after them is assumed written);
/// - `exit` of the entry function reads r0; of any other function r0–r5
///   (its caller sees them);
/// - kfunc calls and unresolved 64-bit loads stop the run: nothing is live.
///
/// Every backend shares it (x86-64 and arm64 push only the live registers
/// around helper calls). The arm64 emulator fills every caller-saved
/// register with a poison value after each call, so a register wrongly left
/// out shows up as a wrong result in the parity tests rather than going
/// unnoticed.
public enum ArgumentLiveness {
    /// Bit `i - 1` set for each r`i` (1–5) read after the call at each helper-call pc.
    ///
    /// With `registersInitialized` (the verifier proved that no path reads a
    /// register before writing it, and it treats r1–r5 as unwritten after
    /// every call, as the kernel does) nothing is read after any call: every
    /// call site keeps none of r1–r5.
    public static func liveAcrossCalls(_ program: Program, functions: [(entry: Int, end: Int)],
                                       registersInitialized: Bool = false) -> [Int: UInt8] {
        let instructions = program.instructions
        let calls = instructions.indices.filter {
            if case .call(.helper) = instructions[$0] { return true }
            if case .call(.register) = instructions[$0] { return true }
            return false
        }
        guard !calls.isEmpty else { return [:] }
        if registersInitialized { return Dictionary(uniqueKeysWithValues: calls.map { ($0, UInt8(0)) }) }
        let count = instructions.count
        // The entry function's exits return to the host, unless it is called too.
        let entryCalled = instructions.indices.contains {
            if case .call(.local) = instructions[$0] { return instructions[$0].target(at: $0) == 0 }
            return false
        }
        var entryFunction = [Bool](repeating: false, count: count)
        if let first = functions.first, !entryCalled { for pc in first.entry..<first.end { entryFunction[pc] = true } }

        var liveIn = [UInt16](repeating: 0, count: count)
        var changed = true
        while changed {
            changed = false
            for pc in stride(from: count - 1, through: 0, by: -1) {
                let instruction = instructions[pc]
                if case .immediate64Tail = instruction { continue }
                let out = liveOut(pc, instruction, liveIn, entryFunction: entryFunction[pc])
                let (use, def) = effects(instruction)
                let value = use | (out & ~def)
                if value != liveIn[pc] {
                    liveIn[pc] = value
                    changed = true
                }
            }
        }
        var result: [Int: UInt8] = [:]
        for pc in calls {
            let out = liveOut(pc, instructions[pc], liveIn, entryFunction: entryFunction[pc])
            result[pc] = UInt8(truncatingIfNeeded: out >> 1) & 0b11111
        }
        return result
    }

    /// Registers live after the instruction at `pc`: the union over its successors.
    private static func liveOut(_ pc: Int, _ instruction: Instruction, _ liveIn: [UInt16], entryFunction: Bool) -> UInt16 {
        let next = pc + instruction.slotCount
        func at(_ target: Int) -> UInt16 { target >= 0 && target < liveIn.count ? liveIn[target] : 0 }
        switch instruction {
        case .exit:
            return entryFunction ? 0b1 : 0b11_1111
        case .jump, .jumpLong:
            return at(instruction.target(at: pc)!)
        case .branch:
            return at(instruction.target(at: pc)!) | at(next)
        case .call(.kfunc):
            return 0
        case .loadImmediate64(_, let kind) where kind.sourceField != 0:
            return 0
        default:
            return at(next)
        }
    }

    /// The registers an instruction reads and those it overwrites.
    static func effects(_ instruction: Instruction) -> (use: UInt16, def: UInt16) {
        func bit(_ r: Register) -> UInt16 { 1 << r.rawValue }
        let arguments: UInt16 = 0b11_1110
        switch instruction {
        case .alu(_, .mov, let dst, .register(let src)):
            return (bit(src), bit(dst))
        case .alu(_, .mov, let dst, .immediate):
            return (0, bit(dst))
        case .alu(_, _, let dst, .register(let src)):
            return (bit(dst) | bit(src), bit(dst))
        case .alu(_, _, let dst, .immediate), .neg(_, let dst), .byteSwap(_, let dst, _):
            return (bit(dst), bit(dst))
        case .movsx(_, let dst, let src, _), .load(_, let dst, let src, _), .loadSignExtend(_, let dst, let src, _):
            return (bit(src), bit(dst))
        case .branch(_, _, let dst, .register(let src), _):
            return (bit(dst) | bit(src), 0)
        case .branch(_, _, let dst, .immediate, _):
            return (bit(dst), 0)
        case .store(_, let dst, _, let src):
            return (bit(dst) | bit(src), 0)
        case .storeImmediate(_, let dst, _, _):
            return (bit(dst), 0)
        case .atomic(_, .cmpxchg, let dst, _, let src):
            return (bit(dst) | bit(src) | bit(.r0), bit(.r0))
        case .atomic(_, let operation, let dst, _, let src):
            return (bit(dst) | bit(src), operation.fetches ? bit(src) : 0)
        case .loadImmediate64(let dst, _):
            return (0, bit(dst))
        case .call(.helper), .call(.local):
            return (arguments, bit(.r0))
        case .call(.register(let register)):
            return (arguments | bit(register), bit(.r0))
        case .exit:
            return (0, 0)
        default:
            return (0, 0)
        }
    }
}
