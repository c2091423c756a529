import BPFISA
import BPFJIT

/// Instruction selection over short sequences of BPF instructions, decided
/// once per compile before the passes (x86-64 only). Every pattern replaces
/// slots no other code jumps into, so the slots it absorbs emit nothing of
/// their own. Flags never live from one BPF instruction to the next (each
/// branch sets its own), so an `lea` may replace a flag-setting `add`.
///
/// * **Selects** (`Select`): a forward conditional branch over one or two
///   register moves (`mov dst, src` or `mov dst, imm`, 32- or 64-bit), which
///   clang emits for `r = c ? x : y` and compare-exchanges, becomes the
///   compare and one `cmovcc` per move on the opposite condition. The arm
///   may also end in `ja` to the branch's own target (a diamond whose both
///   ways meet there); then one `jmp` follows the moves. Moves cannot fault
///   or call, so running them under a condition is what the branch did.
///   A 32-bit move zero-extends its destination whichever way the branch
///   goes, but `cmov r32` would too: it is used when the destination's upper
///   half is already known zero (`upperZero`), else the value goes through
///   r11 (`mov r11d, src` and a 64-bit `cmov`).
/// * **Address arithmetic** (`AddressShape`): `mov dst, a` followed by `add
///   dst, imm`, `add dst, b`, or `lsh dst, 1–3; add dst, b` becomes one `lea`.
/// * **Loads as operands** (`FoldedLoad`): `t = *(u32/u64 *)(base + k)`
///   followed by `dst op= t` (add, sub, and, or, xor, mul of the load's
///   width, dst not t) becomes `op dst, [base + k]` when t is dead after the
///   pair: a forward scan of the straight-line code after it meets an
///   instruction that overwrites t without reading it before anything reads
///   t, branches, calls or exits. The access keeps its bounds check, if it
///   has one; only the register write of a value nothing reads is gone.
/// * **Indexed loads** (`IndexedLoad`): `b += i` (64-bit) followed by a
///   load through b, proven safe, with b dead after it (or overwritten by
///   it), becomes one `mov d, [b + i + k]`; a `lsh i, 1–3` shortly before
///   whose i is read by nothing else (and dead after, or overwritten by the
///   load) becomes the scale of the index.
/// * **Loop heads** (`loopHeads`): a slot some later slot jumps back to
///   starts at a multiple of 16 bytes (multi-byte NOPs before it).
struct X86Peepholes {
    /// A branch lowered as compare and conditional moves.
    struct Select {
        /// The moves, in order.
        let moves: [Instruction]
        /// The slot of the `ja` that ends the arm (nil: the arm falls into the target).
        let join: Int?
    }

    /// An address computation lowered as one `lea`.
    struct AddressShape {
        let size: OperandSize
        let base: Register
        let index: Register?
        let scale: UInt8
        let displacement: Int32
    }

    /// Per slot: the select its branch starts (empty when there is none;
    /// arrays, not dictionaries: the passes look every branch up).
    var selects: [Select?] = []
    /// Per slot: the address computation it starts (empty when there is none).
    var addresses: [AddressShape?] = []
    /// A load lowered as the memory operand of the next slot: its ALU
    /// operation (`op dst, [m]`) or its branch's compare (`cmp dst, [m]; jcc`).
    struct FoldedLoad {
        let width: Width
        /// nil: the next slot is a branch comparing `dst` with the load.
        let operation: ALUOperation?
        let dst: Register
    }
    /// Per load slot: the operation it folds into (empty when there is none).
    var folds: [FoldedLoad?] = []
    /// A load whose address is `base + index * scale + offset`.
    struct IndexedLoad {
        let base: Register
        let index: Register
        let scale: UInt8
    }
    /// Per load slot: its indexed address (empty when there is none).
    var indexed: [IndexedLoad?] = []
    /// Per slot: a loop head to align (empty when none is aligned).
    var loopHeads: [Bool] = []
    /// Slots another pattern absorbed (empty when none).
    var absorbed: [Bool] = []
    /// Per slot: one bit per BPF register whose upper 32 bits are known zero
    /// before the slot runs (empty when not computed).
    var upperZero: [UInt16] = []

    static let none = X86Peepholes()

    init() {}

    /// Finds the patterns of `program` that `choice` allows (`JITOptions.instructionSelection`).
    /// `allowBackwardJoins`: a select whose arm ends in a backward `ja`
    /// (charged to the runaway guard otherwise).
    /// `provenLoad`: whether the load at a slot needs no bounds check
    /// (indexed loads are used only then).
    init(_ program: Program, entries: [Int], choice: JITInstructionSelection, allowBackwardJoins: Bool,
         provenLoad: (Int) -> Bool = { _ in false }) {
        let instructions = program.instructions
        let count = instructions.count
        var targeted = [Bool](repeating: false, count: count + 1)
        for entry in entries where entry <= count { targeted[entry] = true }
        for (pc, instruction) in instructions.enumerated() {
            if let target = instruction.target(at: pc), target >= 0, target <= count { targeted[target] = true }
        }
        var absorbed = [Bool](repeating: false, count: count)
        // Made at the first pattern of their kind (most programs have few kinds).
        var selects: [Select?] = []
        var addresses: [AddressShape?] = []
        var folds: [FoldedLoad?] = []
        var liveOut: [UInt16]?          // computed at the first load that may fold
        var flow: SlotFlow?             // the control flow, for the analyses (once)
        var indexed: [IndexedLoad?] = []
        var foundIndexed = false
        var found = false, foundSelect = false, foundAddress = false, foundFold = false, narrowMove = false
        if choice.contains(.loopAlignment) {
            var heads = [Bool](repeating: false, count: count)
            var any = false
            for (pc, instruction) in instructions.enumerated() {
                if let target = instruction.target(at: pc), target >= 0, target <= pc { heads[target] = true; any = true }
            }
            if any { loopHeads = heads }
        }
        var pc = 0
        while pc < count {
            defer { pc += 1 }
            switch instructions[pc] {
            case .branch(_, _, _, _, let offset) where choice.contains(.selects):
                let target = pc + 1 + Int(offset)
                guard let select = Self.select(instructions, at: pc, target: target, targeted: targeted,
                                               allowBackwardJoins: allowBackwardJoins) else { continue }
                if selects.isEmpty { selects = [Select?](repeating: nil, count: count) }
                selects[pc] = select
                foundSelect = true
                narrowMove = narrowMove || select.moves.contains { if case .alu(.w32, _, _, .register) = $0 { true } else { false } }
                let last = select.join ?? pc + select.moves.count
                for slot in pc + 1...last { absorbed[slot] = true }
                found = true
                pc = last
            case .alu(let width, .mov, let dst, .register(let a))
                where choice.contains(.addresses) && pc + 1 < count && !targeted[pc + 1] && dst != a:
                if let shape = Self.address(instructions, at: pc, width: width, dst: dst, a: a, targeted: targeted) {
                    if addresses.isEmpty { addresses = [AddressShape?](repeating: nil, count: count) }
                    addresses[pc] = shape
                    foundAddress = true
                    let length = shape.index != nil && shape.scale > 1 ? 3 : 2
                    for slot in pc + 1..<pc + length { absorbed[slot] = true }
                    found = true
                    pc += length - 1
                }
            case .load(let size, let t, _, _)
                where choice.contains(.loads) && (size == .word || size == .double) && pc + 1 < count && !targeted[pc + 1]:
                if case .branch(_, _, _, _, let offset) = instructions[pc + 1], choice.contains(.selects),
                   Self.select(instructions, at: pc + 1, target: pc + 2 + Int(offset), targeted: targeted,
                               allowBackwardJoins: allowBackwardJoins) != nil { continue }   // the select is worth more
                if liveOut == nil { flow = flow ?? SlotFlow(instructions); liveOut = Self.liveAfter(program, entries: entries, flow: flow!) ?? [] }
                guard !liveOut!.isEmpty,
                      let fold = Self.foldedLoad(instructions, at: pc, width: size == .word ? .w32 : .w64, t: t,
                                                 liveAfterNext: liveOut![pc + 1]) else { continue }
                if folds.isEmpty { folds = [FoldedLoad?](repeating: nil, count: count) }
                folds[pc] = fold
                foundFold = true
                absorbed[pc + 1] = true
                found = true
                pc += 1
            case .alu(.w64, .add, let b, .register(let i))
                where choice.contains(.loads) && b != i && b != .r10 && i != .r10 && pc + 1 < count && !targeted[pc + 1]:
                guard case .load(_, let d, b, _) = instructions[pc + 1], provenLoad(pc + 1) else { continue }
                if liveOut == nil { flow = flow ?? SlotFlow(instructions); liveOut = Self.liveAfter(program, entries: entries, flow: flow!) ?? [] }
                guard let live = liveOut, !live.isEmpty else { continue }
                func dead(_ r: Register) -> Bool { d == r || live[pc + 1] & (1 << UInt16(r.rawValue)) == 0 }
                guard dead(b) else { continue }
                var scale: UInt8 = 1
                // A shift of i shortly before, read by nothing else on the way.
                if dead(i), let q = Self.shiftBefore(pc, of: i, instructions, targeted: targeted, absorbed: absorbed) {
                    guard case .alu(_, _, _, .immediate(let k)) = instructions[q] else { continue }
                    scale = UInt8(1 << k)
                    absorbed[q] = true
                }
                if indexed.isEmpty { indexed = [IndexedLoad?](repeating: nil, count: count) }
                indexed[pc + 1] = IndexedLoad(base: b, index: i, scale: scale)
                foundIndexed = true
                absorbed[pc] = true
                found = true
                pc += 1
            default:
                continue
            }
        }
        if found { self.absorbed = absorbed }
        if foundIndexed { self.indexed = indexed }
        if foundSelect { self.selects = selects }
        if foundAddress { self.addresses = addresses }
        if foundFold { self.folds = folds }
        // Only a 32-bit register move under a condition asks about upper halves.
        if narrowMove { upperZero = Self.upperZeroRegisters(program, entries: entries, flow: flow ?? SlotFlow(instructions)) }
    }

    /// A move a select may run under a condition: register to register.
    /// Selects of constants (`t = c ? K : 0`, which clang makes of bit
    /// tests such as `(x & 1) * K`) stay branches: they sit on loop-carried
    /// chains where a predicted branch breaks the dependency and `cmov`
    /// does not (measured: the bitwise CRC ran 1.3× slower with them).
    static func isMove(_ instruction: Instruction) -> Bool {
        if case .alu(_, .mov, let dst, .register) = instruction, dst != .r10 { return true }
        return false
    }

    static func select(_ instructions: [Instruction], at pc: Int, target: Int, targeted: [Bool],
                       allowBackwardJoins: Bool) -> Select? {
        let count = instructions.count
        // Triangle: one or two moves, then the target.
        if target == pc + 2 || target == pc + 3 {
            let moves = Array(instructions[pc + 1..<target])
            guard moves.allSatisfy(isMove), !(pc + 1..<target).contains(where: { targeted[$0] }) else { return nil }
            return Select(moves: moves, join: nil)
        }
        // Diamond: one or two moves, then `ja target`.
        for length in 1...2 {
            let join = pc + 1 + length
            guard join < count, !(pc + 1...join).contains(where: { targeted[$0] }) else { return nil }
            let moves = Array(instructions[pc + 1..<join])
            guard moves.allSatisfy(isMove) else { return nil }
            if case .jump(let offset) = instructions[join], join + 1 + Int(offset) == target {
                if target <= join && !allowBackwardJoins { return nil }
                return Select(moves: moves, join: join)
            }
        }
        return nil
    }

    /// The use of the load at `pc` (of `t`, `width` bits) the next slot
    /// makes, if it can take the load as its memory operand and `t` is dead
    /// after it (`liveAfterNext`: registers live after the next slot).
    static func foldedLoad(_ instructions: [Instruction], at pc: Int, width: Width, t: Register,
                           liveAfterNext: UInt16) -> FoldedLoad? {
        guard t != .r10, liveAfterNext & (1 << UInt16(t.rawValue)) == 0 else { return nil }
        switch instructions[pc + 1] {
        case .alu(width, let operation, let dst, .register(t)) where dst != t:
            switch operation {
            case .add, .sub, .and, .or, .xor, .mul: return FoldedLoad(width: width, operation: operation, dst: dst)
            default: return nil
            }
        case .branch(width, let condition, let dst, .register(t), let offset)
            where dst != t && condition != .set && offset != 0:
            return FoldedLoad(width: width, operation: nil, dst: dst)
        default:
            return nil
        }
    }

    /// The slot of `lsh i, 1–3` (64-bit) within three slots before `pc`, if
    /// the slots after it up to `pc` neither name i nor branch, no jump
    /// lands on them (or on `pc + 1`), and no other pattern took it.
    static func shiftBefore(_ pc: Int, of i: Register, _ instructions: [Instruction], targeted: [Bool],
                            absorbed: [Bool]) -> Int? {
        var q = pc - 1
        while q >= 0 && q >= pc - 4 {
            if targeted[q + 1] { return nil }
            let instruction = instructions[q]
            switch instruction {
            case .alu(.w64, .lsh, i, .immediate(let k)) where (1...3).contains(k):
                return absorbed[q] ? nil : q
            case .immediate64Tail:
                break
            case .branch, .jump, .jumpLong, .call, .exit:
                return nil
            default:
                if instruction.namedRegisters & (1 << UInt16(i.rawValue)) != 0 { return nil }
            }
            q -= 1
        }
        return nil
    }

    /// Registers live after each slot (bit n for rN): a backward dataflow
    /// over the program's control flow, union at splits. Conservative where
    /// it cannot see: a call reads every register, an exit reads every
    /// register in a program with local calls (r0 otherwise), and no
    /// instruction but a plain register write kills. nil if it does not
    /// settle.
    static func liveAfter(_ program: Program, entries: [Int], flow given: SlotFlow? = nil) -> [UInt16]? {
        let instructions = program.instructions
        let count = instructions.count
        let all: UInt16 = 0x7ff
        let localCalls = instructions.contains { if case .call(.local) = $0 { true } else { false } }
        var liveIn = [UInt16](repeating: 0, count: count + 1)
        var liveOut = [UInt16](repeating: 0, count: count)
        // Each slot's reads, writes and successors, worked out once rather
        // than in every round (a round visits every slot).
        let flow = given ?? SlotFlow(instructions)
        var use = [UInt16](repeating: 0, count: count)
        var keep = [UInt16](repeating: 0, count: count)
        for pc in 0..<count where flow.isInstruction(pc) {
            let effect = Self.useDef(instructions[pc], exitReads: localCalls ? all : 1)
            use[pc] = effect.use
            keep[pc] = ~effect.def
        }
        var changed = true
        var rounds = 0
        while changed {
            rounds += 1
            if rounds > 64 { return nil }
            changed = false
            var pc = count - 1
            while pc >= 0 {
                defer { pc -= 1 }
                guard flow.isInstruction(pc) else { continue }
                let (first, second) = flow.successors(pc)
                var out: UInt16 = 0
                if first >= 0 { out |= liveIn[first] }
                if second >= 0 { out |= liveIn[second] }
                let into = use[pc] | (out & keep[pc])
                liveOut[pc] = out
                if into != liveIn[pc] {
                    liveIn[pc] = into
                    changed = true
                }
            }
        }
        return liveOut
    }

    /// The control flow of a program as two arrays: each slot's successors
    /// within `0...count` (`Instruction.jitSuccessors`; -1 for none), and
    /// -2 as the first for the second slot of a 64-bit immediate (not an
    /// instruction).
    struct SlotFlow {
        private var first: [Int32]
        private var second: [Int32]

        init(_ instructions: [Instruction]) {
            let count = instructions.count
            first = [Int32](repeating: -1, count: count)
            second = [Int32](repeating: -1, count: count)
            for pc in 0..<count {
                let instruction = instructions[pc]
                if case .immediate64Tail = instruction {
                    first[pc] = -2
                    continue
                }
                var k = 0
                for next in instruction.jitSuccessors(at: pc) where next >= 0 && next <= count {
                    if k == 0 { first[pc] = Int32(next) } else { second[pc] = Int32(next) }
                    k += 1
                }
            }
        }

        @inline(__always) func isInstruction(_ pc: Int) -> Bool { first[pc] != -2 }
        @inline(__always) func successors(_ pc: Int) -> (Int, Int) { (Int(first[pc]), Int(second[pc])) }
    }

    /// The registers `instruction` reads, and those it overwrites whole
    /// without needing their old value (under-approximated: only plain writes).
    static func useDef(_ instruction: Instruction, exitReads: UInt16) -> (use: UInt16, def: UInt16) {
        func bit(_ register: Register) -> UInt16 { 1 << UInt16(register.rawValue) }
        switch instruction {
        case .alu(_, .mov, let dst, .immediate), .loadImmediate64(let dst, _):
            return (0, bit(dst))
        case .alu(_, .mov, let dst, .register(let src)), .movsx(_, let dst, let src, _),
             .load(_, let dst, let src, _), .loadSignExtend(_, let dst, let src, _):
            return (bit(src), dst == src ? 0 : bit(dst))
        case .call:
            return (0x7ff, 0)
        case .exit:
            return (exitReads, 0)
        case .atomic:
            return (instruction.namedRegisters | 1, 0)      // compare-exchange reads r0
        default:
            return (instruction.namedRegisters, 0)
        }
    }

    static func address(_ instructions: [Instruction], at pc: Int, width: Width, dst: Register, a: Register,
                        targeted: [Bool]) -> AddressShape? {
        let size = OperandSize(width)
        switch instructions[pc + 1] {
        case .alu(width, .add, dst, .immediate(let imm)) where imm != 0:
            return AddressShape(size: size, base: a, index: nil, scale: 1, displacement: imm)
        case .alu(width, .add, dst, .register(let b)) where b != dst:
            return AddressShape(size: size, base: b, index: a, scale: 1, displacement: 0)
        case .alu(width, .lsh, dst, .immediate(let k)) where (1...3).contains(k):
            guard pc + 2 < instructions.count, !targeted[pc + 2],
                  case .alu(width, .add, dst, .register(let b)) = instructions[pc + 2], b != dst else { return nil }
            return AddressShape(size: size, base: b, index: a, scale: UInt8(1 << k), displacement: 0)
        default:
            return nil
        }
    }

    /// Registers whose upper 32 bits are zero before each slot: a forward
    /// must-analysis (intersection at joins) over the program's control flow.
    /// Function entries and the program's start know nothing.
    static func upperZeroRegisters(_ program: Program, entries: [Int], flow given: SlotFlow? = nil) -> [UInt16] {
        let instructions = program.instructions
        let count = instructions.count
        let unknown: UInt16 = 0xffff   // not reached yet: the top of the lattice
        var state = [UInt16](repeating: unknown, count: count + 1)
        for entry in entries where entry < count { state[entry] = 0 }
        let flow = given ?? SlotFlow(instructions)
        // A slot is visited again only when its state changed since its last
        // visit (`dirty`): the same state flows out the same, so the rounds,
        // and the result, are those of visiting every slot in every round.
        var dirty = [Bool](repeating: false, count: count + 1)
        for entry in entries where entry < count { dirty[entry] = true }
        var changed = true
        var rounds = 0
        while changed && rounds < 64 {
            changed = false
            rounds += 1
            for pc in 0..<count where dirty[pc] {
                dirty[pc] = false
                let before = state[pc]
                if before == unknown || !flow.isInstruction(pc) { continue }
                let after = transfer(instructions[pc], before)
                let (first, second) = flow.successors(pc)
                for k in 0..<2 {
                    let next = k == 0 ? first : second
                    guard next >= 0 else { continue }
                    let merged = state[next] & after
                    if merged != state[next] {
                        state[next] = merged
                        dirty[next] = true
                        if next <= pc { changed = true }
                    }
                }
            }
        }
        if changed { return [] }                // not settled: know nothing
        return state.map { $0 == unknown ? 0 : $0 }
    }

    /// The known-zero-upper-half set after `instruction`.
    static func transfer(_ instruction: Instruction, _ known: UInt16) -> UInt16 {
        func bit(_ register: Register) -> UInt16 { 1 << UInt16(register.rawValue) }
        func set(_ register: Register, _ zero: Bool) -> UInt16 {
            zero ? known | bit(register) : known & ~bit(register)
        }
        switch instruction {
        case .alu(.w32, _, let dst, _):
            return set(dst, true)
        case .alu(.w64, let operation, let dst, let operand):
            switch (operation, operand) {
            case (.mov, .register(let src)): return set(dst, known & bit(src) != 0)
            case (.mov, .immediate(let imm)): return set(dst, imm >= 0)
            case (.and, .immediate(let imm)): return set(dst, imm >= 0 || known & bit(dst) != 0)
            case (.and, .register(let src)): return set(dst, known & (bit(src) | bit(dst)) != 0)
            case (.rsh, .immediate(let imm)): return set(dst, imm & 63 >= 32 || known & bit(dst) != 0)
            default: return set(dst, false)
            }
        case .neg(let width, let dst):
            return set(dst, width == .w32)
        case .movsx(let width, let dst, _, _):
            return set(dst, width == .w32)
        case .byteSwap(_, let dst, let bits):
            return set(dst, bits < 64)
        case .load(let size, let dst, _, _):
            return set(dst, size != .double)
        case .loadSignExtend(_, let dst, _, _):
            return set(dst, false)
        case .loadImmediate64(let dst, let value):
            if case .value(let constant) = value { return set(dst, constant <= UInt64(UInt32.max)) }
            return set(dst, false)
        case .call(.local):
            return 0
        case .call:
            // r0 is the result; r1–r5 are not defined after a call.
            return known & ~0b11_1111
        case .atomic(_, _, _, _, let src):
            // Fetching forms write src, compare-exchange writes r0.
            return known & ~(bit(src) | 1)
        default:
            return known
        }
    }
}

extension X86_64Backend {
    /// The compare of a select's branch is emitted; now its moves, under the
    /// opposite condition, and the `jmp` of a diamond's join.
    mutating func emitSelect(_ select: X86Peepholes.Select, branchCondition: Condition, at pc: Int, _ e: X86Encoder) {
        let condition = branchCondition.negated
        var zero = peepholes.upperZero.isEmpty ? 0 : peepholes.upperZero[pc]
        for move in select.moves {
            guard case .alu(let width, .mov, let dst, let operand) = move else { continue }
            let d = RegisterMap.native(dst)
            switch (width, operand) {
            case (.w64, .register(let src)):
                if dst != src { e.cmov(condition, .qword, d, RegisterMap.native(src)) } /* cmovcc dst, src */
            case (.w32, .register(let src)) where zero & (1 << UInt16(dst.rawValue)) != 0:
                e.cmov(condition, .dword, d, RegisterMap.native(src))  /* cmovcc dst32, src32: dst's upper half is zero */
            case (.w32, .register(let src)):
                e.mov(.dword, .r11, RegisterMap.native(src))            /* mov r11d, src32 */
                e.cmov(condition, .qword, d, .r11)                      /* cmovcc dst, r11 */
            case (_, .immediate(let imm)):
                if width == .w64 && imm < 0 {
                    e.mov64(.r11, simm: imm)                            /* mov r11, simm32 (no xor: flags stay) */
                } else {
                    e.mov32(.r11, imm: UInt32(bitPattern: imm))         /* mov r11d, imm32 (no xor: flags stay) */
                }
                e.cmov(condition, .qword, d, .r11)                      /* cmovcc dst, r11 */
            }
            // After the move the destination's upper half is zero either
            // way only if it was before and the moved value's is.
            let bit: UInt16 = 1 << UInt16(dst.rawValue)
            zero = zero & ~bit | zero & X86Peepholes.transfer(move, zero) & bit
        }
        if let join = select.join {
            guard case .jump(let offset) = program.instructions[join] else { return }
            let target = join + 1 + Int(offset)
            if target <= join { chargeGuard(proofs.guardCharge(from: join, to: target), pc: join, e) }
            e.jmp(e.asm.instruction(target))                            /* jmp join target */
        }
    }

    /// A load and the operation that reads it as `op dst, [base + k]`
    /// (`X86Peepholes.FoldedLoad`); the access is checked as the load was.
    mutating func emitFoldedLoad(_ fold: X86Peepholes.FoldedLoad, base: Register, offset: Int16, size: Int,
                                 at pc: Int, _ e: X86Encoder) {
        let m = checkedAddress(base: base, offset: offset, size: size, write: false, pc: pc, e)
        let s = OperandSize(fold.width), d = RegisterMap.native(fold.dst)
        guard let operation = fold.operation else {
            // The branch of slot pc + 1, its compare reading memory.
            guard case .branch(_, let condition, _, _, let branchOffset) = program.instructions[pc + 1] else { return }
            let target = pc + 2 + Int(branchOffset)
            if target <= pc + 1 { chargeGuard(proofs.guardCharge(from: pc + 1, to: target), pc: pc + 1, e) }
            e.arith(.cmp, s, d, m)                                  /* cmp dst, [m] */
            e.j(Condition(condition), e.asm.instruction(target))    /* jcc target */
            return
        }
        switch operation {
        case .add: e.arith(.add, s, d, m)                           /* add dst, [m] */
        case .sub: e.arith(.sub, s, d, m)                           /* sub dst, [m] */
        case .and: e.arith(.and, s, d, m)                           /* and dst, [m] */
        case .or: e.arith(.or, s, d, m)                             /* or dst, [m] */
        case .xor: e.arith(.xor, s, d, m)                           /* xor dst, [m] */
        default: e.imul(s, d, m)                                    /* imul dst, [m] */
        }
    }

    /// Multi-byte NOPs up to the next multiple of 16 before a loop head
    /// (`X86Peepholes.loopHeads`) that follows `pc` in its function.
    func alignLoopHead(after pc: Int, in function: JITFunctionInfo, _ e: X86Encoder) {
        let next = pc + program.instructions[pc].slotCount
        guard next < function.end, peepholes.loopHeads[next] else { return }
        let misalignment = e.code.count & 15
        if misalignment != 0 { e.nop(16 - misalignment) }           /* nop: align the loop head */
    }

    /// `mov dst, a` and its `add`/`lsh` as one `lea` (`X86Peepholes.AddressShape`).
    func emitAddress(_ shape: X86Peepholes.AddressShape, dst: Register, _ e: X86Encoder) {
        let d = RegisterMap.native(dst), base = RegisterMap.native(shape.base)
        if let index = shape.index {
            var b = base, i = RegisterMap.native(index)
            if i == .rsp || (shape.scale == 1 && i == .rbp && b != .rbp) { swap(&b, &i) } // no rsp index; rbp base costs a byte
            e.lea(shape.size, d, base: b, index: i, scale: shape.scale, disp: 0)  /* lea dst, [b + a*scale] */
        } else {
            e.lea(shape.size, d, Memory(base, shape.displacement))           /* lea dst, [a + imm] */
        }
    }
}
