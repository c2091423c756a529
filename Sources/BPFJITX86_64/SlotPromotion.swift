import BPFISA
import BPFJIT
import BPFRuntime

/// Stack slots kept in host registers (x86-64 only; `JITInstructionSelection.slots`).
///
/// clang spills to the BPF stack what does not fit in BPF's four
/// callee-saved registers (loop counters, a packet end, values a loop
/// reloads), so a hot loop loads and stores the same few `[r10 - k]` every
/// iteration. When no code can see a slot but its own accesses, the slot can
/// live in a host register for the whole program instead: its loads and
/// stores become register moves, and a load folded into an operation
/// (`X86Peepholes.FoldedLoad`) reads the register.
///
/// A slot is the bytes `[r10 + k, r10 + k + size)` (size 4 or 8, k a
/// multiple of size) when **every** access of the program that overlaps
/// them is a plain load or store of exactly those bytes through r10 with a
/// constant offset. Then the value in the register is what memory would
/// hold: a 32-bit store zero-extends into the register and a 32-bit load
/// zero-extends out of it, as a 32-bit load of the stored bytes would.
/// Nothing else can name the slot because the whole program is refused
/// (nothing promoted) when:
/// * r10 is used in any other way (copied, added to, compared, stored,
///   written): then a pointer into the frame may exist, reach a helper, a
///   callee or another access, and read or write a slot behind the register;
/// * the program has local calls (a callee's frame pointer is the caller's
///   minus its frame, and frames are each function's own), or tail calls
///   (the target may be this very program, entered afresh);
/// * the program has more than one function.
/// Accesses of a different width or offset overlapping a slot (a byte read
/// of a spilled word), sign-extending loads and atomics keep that slot in
/// memory. The register starts at zero when the stack is cleared at entry,
/// so a read before any write sees what the interpreter sees (a stack not
/// cleared is one no read sees unwritten: `JITFramePlan`).
///
/// The registers (none of them a BPF register's home in this program):
/// the homes of r6–r9 the program never names and r12 when the run context
/// is not used (callee-saved: the entry prologue saves and restores them);
/// and the scratch r9 and r10 when nothing in the program uses them: no
/// run context (no bounds checks, runaway guard or error stubs), no call of
/// any kind, no division or modulo, no atomic and no auxiliary register
/// (constant blinding). r11 stays scratch (selects, shifts by `cl`). Slots
/// are ranked by their accesses weighted by loop depth (8 per level, from
/// the backward jumps that enclose them); only slots accessed inside a loop
/// are promoted (elsewhere a register saves nothing measurable and a
/// callee-saved one costs a push and a pop).
struct X86SlotPromotion {
    /// Per slot: the register of the promoted slot the access names (empty: nothing promoted).
    var homes: [GPR?] = []
    /// The registers that hold slots, in the order chosen.
    var registers: [GPR] = []
    /// Those among them the host expects preserved (saved by the entry prologue).
    var calleeSaved: [GPR] = []
    /// The promoted slots, by offset from r10 and size (for tests and statistics).
    var slots: [(offset: Int, size: Int, register: GPR)] = []

    static let none = X86SlotPromotion()

    var isEmpty: Bool { registers.isEmpty }

    init() {}

    /// One access through r10 at a constant offset.
    private struct Access {
        let pc: Int
        let offset: Int
        let size: Int
        /// A plain load or store (not sign-extending, not atomic).
        let plain: Bool
    }

    /// `usesContext`: code reads r12 (then neither r12 nor the scratch
    /// registers are free); `usesAuxiliary`: r9 holds the blinding register.
    init(_ program: Program, functionCount: Int, usesContext: Bool, usesAuxiliary: Bool) {
        let instructions = program.instructions
        guard functionCount == 1, !instructions.isEmpty else { return }
        var accesses: [Access] = []
        var named: UInt16 = 0
        var scratchFree = !usesContext && !usesAuxiliary
        let r10: UInt16 = 1 << 10
        var depthDelta = [Int](repeating: 0, count: instructions.count + 1)
        for (pc, instruction) in instructions.enumerated() {
            let names = instruction.namedRegisters
            named |= names
            switch instruction {
            case .load(let size, let dst, .r10, let offset) where dst != .r10:
                accesses.append(Access(pc: pc, offset: Int(offset), size: size.bytes, plain: true))
            case .loadSignExtend(let size, let dst, .r10, let offset) where dst != .r10:
                accesses.append(Access(pc: pc, offset: Int(offset), size: size.bytes, plain: false))
            case .store(let size, .r10, let offset, let src) where src != .r10:
                accesses.append(Access(pc: pc, offset: Int(offset), size: size.bytes, plain: true))
            case .storeImmediate(let size, .r10, let offset, _):
                accesses.append(Access(pc: pc, offset: Int(offset), size: size.bytes, plain: true))
            case .atomic(let width, _, .r10, let offset, let src) where src != .r10:
                accesses.append(Access(pc: pc, offset: Int(offset), size: width == .w64 ? 8 : 4, plain: false))
                scratchFree = false
            case .atomic:
                if names & r10 != 0 { return }
                scratchFree = false
            case .call(.helper(let id)) where id != TailCalls.helperID:
                scratchFree = false
            case .call(.kfunc):
                scratchFree = false
            case .call:
                return      // local calls, tail calls
            case .alu(_, .div, _, _), .alu(_, .sdiv, _, _), .alu(_, .mod, _, _), .alu(_, .smod, _, _):
                if names & r10 != 0 { return }
                scratchFree = false
            default:
                // Any other mention of r10 may make a pointer into the frame.
                if names & r10 != 0 { return }
            }
            if let target = instruction.target(at: pc), target <= pc, target >= 0 {
                depthDelta[target] += 1
                depthDelta[pc + 1] -= 1
            }
        }
        guard !accesses.isEmpty else { return }

        // Loop depth per slot: the backward jumps whose span covers it.
        var depth = [Int](repeating: 0, count: instructions.count)
        var running = 0
        for pc in 0..<instructions.count {
            running += depthDelta[pc]
            depth[pc] = running
        }

        // Group by offset; a slot qualifies when no access of another
        // group overlaps it and all of its own are plain, of its size.
        accesses.sort { $0.offset < $1.offset || ($0.offset == $1.offset && $0.size < $1.size) }
        var candidates: [(offset: Int, size: Int, weight: Int, first: Int, count: Int)] = []
        var start = 0
        var reachBefore = Int.min   // the highest end of every access before this group
        while start < accesses.count {
            let offset = accesses[start].offset, size = accesses[start].size
            var end = start, uniform = true, groupEnd = offset
            var weight = 0, inLoop = false
            while end < accesses.count && accesses[end].offset == offset {
                let access = accesses[end]
                if access.size != size || !access.plain { uniform = false }
                groupEnd = max(groupEnd, offset + access.size)
                let d = min(depth[access.pc], 6)
                if d > 0 { inLoop = true }
                weight += 1 << (3 * d)
                end += 1
            }
            let nextOffset = end < accesses.count ? accesses[end].offset : Int.max
            if uniform, size == 4 || size == 8, offset % size == 0, reachBefore <= offset,
               nextOffset >= offset + size, inLoop {
                candidates.append((offset, size, weight, start, end - start))
            }
            reachBefore = max(reachBefore, groupEnd)
            start = end
        }
        guard !candidates.isEmpty else { return }

        var pool: [(GPR, saved: Bool)] = []
        if scratchFree { pool += [(.r9, false), (.r10, false)] }
        let unnamed = RegisterMap.calleeSaved.filter { named & (1 << $0.0.rawValue) == 0 }.map(\.1)
        // rbx first: its 32-bit forms need no REX prefix.
        for register in unnamed where register == .rbx { pool.append((register, true)) }
        if !usesContext { pool.append((RegisterMap.context, true)) }
        for register in unnamed where register != .rbx { pool.append((register, true)) }
        guard !pool.isEmpty else { return }

        candidates.sort { $0.weight > $1.weight || ($0.weight == $1.weight && $0.offset > $1.offset) }
        homes = [GPR?](repeating: nil, count: instructions.count)
        for (candidate, (register, saved)) in zip(candidates, pool) {
            for k in candidate.first..<(candidate.first + candidate.count) { homes[accesses[k].pc] = register }
            registers.append(register)
            if saved { calleeSaved.append(register) }
            slots.append((candidate.offset, candidate.size, register))
        }
    }
}

extension X86_64Backend {
    /// A load or store of a promoted slot (`X86SlotPromotion`) as a register
    /// move; a load folded into the next slot's operation or compare reads
    /// the register instead of memory.
    mutating func emitPromotedAccess(_ instruction: Instruction, home: GPR, at pc: Int, _ e: X86Encoder) {
        switch instruction {
        case .load(let size, let dst, _, _):
            let s = OperandSize(size)
            if !peepholes.folds.isEmpty, let fold = peepholes.folds[pc] {
                let width = OperandSize(fold.width), d = RegisterMap.native(fold.dst)
                guard let operation = fold.operation else {
                    guard case .branch(_, let condition, _, _, let branchOffset) = program.instructions[pc + 1] else { return }
                    let target = pc + 2 + Int(branchOffset)
                    if target <= pc + 1 { chargeGuard(proofs.guardCharge(from: pc + 1, to: target), pc: pc + 1, e) }
                    e.arith(.cmp, width, d, home)                       /* cmp dst, slot register */
                    e.j(Condition(condition), e.asm.instruction(target)) /* jcc target */
                    return
                }
                switch operation {
                case .add: e.arith(.add, width, d, home)                /* add dst, slot register */
                case .sub: e.arith(.sub, width, d, home)                /* sub dst, slot register */
                case .and: e.arith(.and, width, d, home)                /* and dst, slot register */
                case .or: e.arith(.or, width, d, home)                  /* or dst, slot register */
                case .xor: e.arith(.xor, width, d, home)                /* xor dst, slot register */
                default: e.imul(width, d, home)                         /* imul dst, slot register */
                }
                return
            }
            e.mov(s, RegisterMap.native(dst), home)                     /* mov dst, slot register (32-bit: zero-extends) */
        case .store(let size, _, _, let src):
            e.mov(OperandSize(size), home, RegisterMap.native(src))     /* mov slot register, src (32-bit: zero-extends) */
        case .storeImmediate(let size, _, _, let imm):
            if size == .double {
                e.mov64(home, simm: imm)                                /* mov slot register, simm32 */
            } else {
                e.mov32(home, imm: UInt32(bitPattern: imm))             /* mov slot register32, imm32 */
            }
        default:
            break   // never promoted (see `X86SlotPromotion`)
        }
    }
}
