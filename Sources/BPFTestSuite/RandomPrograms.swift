import BPFISA

// Random verifiable XDP programs, for the verifier's soundness fuzz and the
// differential fuzz of the JITs against the interpreter. Map 0 (by index) is
// an array map of at least 16-byte values; helper 44 is bpf_xdp_adjust_head.

/// SplitMix64: reproducible randomness from a seed.
public struct SplitMix: RandomNumberGenerator {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random XDP programs built to exercise packet pointers, ranges, branches,
/// masks, shifts and ALU32, the stack and a map value: r6 = data, r7 =
/// data_end, r8 a loop counter, r9 the context; r0–r5 are the playground.
public struct RandomProgram {
    enum Item {
        case plain(Instruction)
        /// A forward branch skipping `skip` items.
        case forward(Width, JumpCondition, Register, Operand, skip: Int)
        /// A backward branch to item `to`.
        case backward(Width, JumpCondition, Register, Operand, to: Int)
    }

    public var rng: SplitMix
    var items: [Item] = []
    /// Packet offsets the program checks against data_end: the lengths
    /// around them are where an off-by-one would show.
    public var checks: [Int] = []
    /// The last check: (register, offset from data).
    var lastCheck: (Register, Int)? = nil

    static let immediates: [Int32] = [0, 1, 2, 3, 4, 7, 8, 13, 14, 15, 16, 20, 31, 32, 33, 34, 40, 54, 60, 63, 64, 255, 256,
                                      0xfff, 0xffff, 0x7fff_ffff, -1, -2, -4, -8, -14, -16, -256, -512, .min]
    static let work: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5]
    static let bases: [Register] = [.r0, .r1, .r2, .r3, .r4, .r5, .r6, .r10]
    static let operations: [ALUOperation] = [.add, .sub, .mul, .div, .or, .and, .lsh, .rsh, .mod, .xor, .mov, .arsh, .sdiv, .smod]
    static let sizes: [AccessSize] = [.byte, .half, .word, .double]

    /// Whether every register is written before it is read: r0–r5 and the
    /// loop counter r8 at entry, and r1–r5 again after every call (the ISA
    /// leaves them undefined there, so engines may differ). Off, the
    /// programs are as the verifier's soundness fuzz has always drawn them.
    public let defined: Bool

    public init(seed: UInt64, defined: Bool = false) {
        rng = SplitMix(state: seed)
        self.defined = defined
    }

    /// Whether r6 and r7 hold the packet's bounds (not after a
    /// bpf_xdp_adjust_head that did not reload them).
    var packetPointers = true

    /// After a call: r1–r5 written again, when `defined` (the pointer
    /// registers r4 and r5 at the packet's start while r6 holds it).
    mutating func redefineArguments() {
        guard defined else { return }
        for r in [Register.r1, .r2, .r3, .r4, .r5] {
            if packetPointers && (r == .r4 || r == .r5) { add(.alu(.w64, .mov, dst: r, .register(.r6))); continue }
            add(.alu(.w64, .mov, dst: r, .immediate(immediate())))
        }
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &rng)] }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }
    mutating func immediate() -> Int32 { chance(85) ? pick(Self.immediates) : Int32(truncatingIfNeeded: rng.next()) }
    mutating func operand() -> Operand { chance(50) ? .register(scalar(pick(Self.work + [.r6, .r7]))) : .immediate(immediate()) }

    /// When `defined`, numbers live in r2 and r3 and pointers in r4 and r5
    /// (r0 and r1 as the calls leave them), so that the result, r2 ^ r3,
    /// holds no address: `scalar` and `pointer` map a register drawn from
    /// `work` (or r6, r7) onto them. Otherwise both return `r`.
    func scalar(_ r: Register) -> Register { defined ? (r.index % 2 == 0 ? .r2 : .r3) : r }
    func pointer(_ r: Register) -> Register { defined ? (r.index % 2 == 0 ? .r4 : .r5) : r }
    mutating func width() -> Width { chance(60) ? .w64 : .w32 }
    mutating func offset() -> Int16 { Int16.random(in: -16...40, using: &rng) }
    /// The base register of a load or store. When `defined`, the packet's
    /// start or the stack, so that most runs get past their accesses.
    mutating func base() -> Register { defined ? pick([.r6, .r10]) : pick(Self.bases) }
    /// Its offset: when `defined`, inside the shortest packet (14 bytes) or
    /// the stack's top 32 bytes. Otherwise anything near the base, except
    /// that r10's stays below the stack's top (an access wholly above it is
    /// refused at load, so it would only thin out what gets verified).
    mutating func offset(from base: Register, size: Int) -> Int16 {
        guard defined else { return base == .r10 ? Int16.random(in: -48 ... -1, using: &rng) : offset() }
        return base == .r10 ? Int16(-8 * Int.random(in: 1...4, using: &rng)) : Int16.random(in: 0...Int16(14 - size), using: &rng)
    }
    mutating func skip() -> Int { Int.random(in: 1...6, using: &rng) }
    mutating func add(_ instruction: Instruction) { items.append(.plain(instruction)) }

    /// One random fragment.
    mutating func fragment(inLoop: Bool) {
        let drawn = pick(Self.work), dst = scalar(drawn)
        switch Int.random(in: 0..<15, using: &rng) {
        case 0:
            // When `defined`, mostly the packet's start: a pointer register
            // is compared with data_end, which only a packet pointer may be
            // where pointers may not leak (the rest are run, not compared).
            let source: Register = defined && chance(85) ? .r6 : pick([.r6, .r6, .r10, .r7])
            add(.alu(.w64, .mov, dst: pointer(drawn), .register(source)))
        case 1: add(.alu(.w64, pick([.add, .sub]), dst: dst, .immediate(immediate())))
        case 2: add(.alu(.w64, pick([.add, .add, .sub]), dst: dst, .register(scalar(pick(Self.work)))))
        case 3, 4: add(.alu(width(), pick(Self.operations), dst: dst, operand()))
        case 5, 6:
            let dst = pointer(drawn)
            // A packet check: dst = r6 + k; if dst <cond> r7 (either order) skip.
            let fromData = chance(80)
            let k = Int.random(in: -2...70, using: &rng)
            // Not from data: when `defined`, from a pointer register (mostly
            // a packet pointer, see case 0), else from any register.
            add(.alu(.w64, .mov, dst: dst, .register(fromData ? .r6 : defined && chance(90) ? pointer(pick(Self.work)) : pick(Self.work))))
            add(.alu(.w64, .add, dst: dst, .immediate(Int32(k))))
            if fromData { checks.append(k); lastCheck = (dst, k) }
            // Mostly with the in-range outcome falling through to what follows.
            let cond = chance(75) ? pick([JumpCondition.gt, .ge]) : pick([JumpCondition.lt, .le])
            if chance(50) {
                items.append(.forward(.w64, cond, dst, .register(.r7), skip: skip()))
            } else {
                items.append(.forward(.w64, [JumpCondition.gt: .lt, .ge: .le, .lt: .gt, .le: .ge][cond]!, .r7, .register(dst), skip: skip()))
            }
            if chance(50) {
                let size = pick(Self.sizes)
                let delta = Int.random(in: -1...1, using: &rng)
                let viaData = fromData && chance(50)
                add(.load(size, dst: scalar(pick(Self.work.filter { $0 != dst })), src: viaData ? .r6 : dst,
                          offset: Int16(viaData ? k - size.bytes + delta : -size.bytes + delta)))
            }
        case 7: items.append(.forward(width(), pick(JumpCondition.allCases), dst, operand(), skip: skip()))
        case 8, 9:
            let size = pick(Self.sizes)
            if let (checked, k) = lastCheck, chance(50) {
                // Right at the end of the checked range, from data or from the checked pointer.
                let delta = Int.random(in: -1...1, using: &rng)
                if chance(50) {
                    add(.load(size, dst: dst, src: .r6, offset: Int16(k - size.bytes + delta)))
                } else {
                    add(.load(size, dst: dst, src: checked, offset: Int16(-size.bytes + delta)))
                }
            } else if chance(80) {
                let base = base()
                add(.load(size, dst: dst, src: base, offset: offset(from: base, size: size.bytes)))
            } else {
                let size = pick([AccessSize.byte, .half, .word]), base = base()
                add(.loadSignExtend(size, dst: dst, src: base, offset: offset(from: base, size: size.bytes)))
            }
        case 10:
            let base = base()
            if chance(50) {
                let size = pick(Self.sizes)
                add(.storeImmediate(size, dst: base, offset: offset(from: base, size: size.bytes), imm: immediate()))
            } else {
                let size = pick(Self.sizes)
                add(.store(size, dst: base, offset: offset(from: base, size: size.bytes), src: scalar(pick(Self.work))))
            }
        case 11:
            let width = width(), operation = pick(AtomicOperation.all)
            if defined {
                add(.atomic(width, operation, dst: .r10, offset: pick([-8, -16]), src: scalar(pick(Self.work))))
            } else {
                add(.atomic(width, operation, dst: pick(Self.bases), offset: pick([-8, -16, -4, 0, 8, 4, 2]), src: pick(Self.work)))
            }
        case 12:
            // bpf_xdp_adjust_head, then maybe reload the packet pointers.
            add(.alu(.w64, .mov, dst: .r1, .register(.r9)))
            add(.alu(.w64, .mov, dst: .r2, .immediate(pick([-8, -4, 0, 4, 8, 16]))))
            add(.call(.helper(44)))
            // When `defined`, mostly: packet pointers from before are no
            // longer valid, and one read afterwards may hold an address.
            packetPointers = chance(defined ? 92 : 60)
            if packetPointers {
                // When `defined`, straight from r9, which holds the context
                // on every path (a branch may land inside these loads).
                let context: Register = defined ? .r9 : .r1
                if !defined { add(.alu(.w64, .mov, dst: .r1, .register(.r9))) }
                add(.load(.word, dst: .r6, src: context, offset: 0))
                add(.load(.word, dst: .r7, src: context, offset: 4))
            }
            redefineArguments()
        case 13:
            // A map lookup, usually null-checked; r0 then serves as a base.
            add(.storeImmediate(.word, dst: .r10, offset: -4, imm: Int32.random(in: 0...5, using: &rng)))
            add(.alu(.w64, .mov, dst: .r2, .register(.r10)))
            add(.alu(.w64, .add, dst: .r2, .immediate(-4)))
            add(.loadImmediate64(dst: .r1, .mapByIndex(0)))
            add(.call(.helper(1)))
            redefineArguments()
            if chance(80) { items.append(.forward(.w64, pick([.eq, .eq, .ne]), .r0, .immediate(0), skip: skip())) }
        default:
            // A variable offset: a masked or shifted packet byte added to a pointer.
            add(.alu(width(), pick([.and, .rsh, .mod, .lsh]), dst: dst, .immediate(pick([1, 2, 3, 7, 15, 0x3c, 0xff, 0x1f8, 60]))))
            add(.alu(.w64, .add, dst: scalar(pick(Self.work)), .register(dst)))
        }
        _ = inLoop
    }

    /// The whole program: prologue, fragments and small counted loops, `r0 = 0; exit`.
    public mutating func generate() -> Program {
        add(.alu(.w64, .mov, dst: .r9, .register(.r1)))
        add(.load(.word, dst: .r6, src: .r1, offset: 0))
        add(.load(.word, dst: .r7, src: .r1, offset: 4))
        for r in Self.work where chance(90) || defined {
            // When `defined`, the pointer registers start at the packet.
            if defined && (r == .r4 || r == .r5) { add(.alu(.w64, .mov, dst: r, .register(.r6))); continue }
            add(.alu(.w64, .mov, dst: r, .immediate(immediate())))
        }
        if defined {
            // A forward branch may skip into a loop past its counter's setup.
            add(.alu(.w64, .mov, dst: .r8, .immediate(1)))
            // The stack slots loads may read.
            for slot in 1...4 { add(.storeImmediate(.double, dst: .r10, offset: Int16(-8 * slot), imm: 0)) }
        }
        let fragments = Int.random(in: 3...14, using: &rng)
        for _ in 0..<fragments {
            if chance(15) {
                let start = items.count
                add(.alu(.w64, .mov, dst: .r8, .immediate(Int32.random(in: 1...6, using: &rng))))
                let body = items.count
                for _ in 0..<Int.random(in: 1...4, using: &rng) { fragment(inLoop: true) }
                add(.alu(.w64, .sub, dst: .r8, .immediate(1)))
                items.append(.backward(.w64, .ne, .r8, .immediate(0), to: chance(90) ? body : start))
            } else {
                fragment(inLoop: false)
            }
        }
        let end = items.count
        if defined {
            // What the program computed is in its result.
            add(.alu(.w64, .mov, dst: .r0, .register(.r2)))
            add(.alu(.w64, .xor, dst: .r0, .register(.r3)))
        } else {
            add(.alu(.w64, .mov, dst: .r0, .immediate(0)))
        }
        add(.exit)
        // Lay out: slot of each item, then branch offsets.
        var slot: [Int] = []
        var pc = 0
        for item in items {
            slot.append(pc)
            if case .plain(let i) = item { pc += i.slotCount } else { pc += 1 }
        }
        var instructions: [Instruction] = []
        for (i, item) in items.enumerated() {
            switch item {
            case .plain(let instruction): instructions.append(instruction)
            case .forward(let w, let c, let r, let o, let skip):
                let target = slot[min(i + 1 + skip, end)]
                instructions.append(.branch(w, c, dst: r, o, offset: Int16(target - slot[i] - 1)))
            case .backward(let w, let c, let r, let o, let to):
                instructions.append(.branch(w, c, dst: r, o, offset: Int16(slot[to] - slot[i] - 1)))
            }
        }
        return Program(instructions, name: "random")
    }
}
