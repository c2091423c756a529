import BPFISA

// Random XDP programs aimed at the verifier's proofs rather than at the
// ALU: registers that hold a pointer on one path and a number on another
// meet at join points and loop heads, are spilled to the stack and
// reloaded, are passed to local calls, to helpers' memory arguments and as
// bpf_tail_call's context, and are then used as the base of loads and
// stores. Map 0 (by index) is an array map of 4 values of 64 bytes; map 1 is
// a program array whose slot 0 holds the `target` program and slot 1 the
// main program itself. A differential run (the JIT with the verifier's
// proofs against the interpreter, both on stacks filled with a pattern)
// fails on any access proven safe that is not, on a stack clear skipped
// wrongly, and on a runaway guard left out of a loop that does not end.

/// A pair of programs (`main` and the tail-call `target`) drawn from a seed.
public struct ProofAimedProgram {
    /// What the generator may draw.
    public struct Options: Sendable {
        /// bpf_tail_call sites (slot 0: the target, slot 1: main itself).
        public var tailCalls = true
        /// r1 at a tail call other than the context (a stack, packet or
        /// map-value address, or a number).
        public var madeUpContexts = true
        /// Local calls to a subprogram taking a pointer or a number in r1.
        public var localCalls = true
        public init() {}
    }

    public var rng: SplitMix
    public let options: Options
    /// The program so far, jumps and calls by label (`Code`).
    var items: [Code.Item] = []
    var nextLabel = 0
    var depth = 0
    /// Registers that may hold a map value here (r9 after a lookup, and
    /// what was copied from it). An access through one of them stays inside
    /// the value: the verifier refuses any map-value access it cannot prove
    /// inside, as the kernel does, and a refused program tests nothing at
    /// run time. Pointers of other kinds still meet accesses at and past
    /// their edges.
    var mapValued: Set<Register> = []
    /// Whether some local call passes r1 that may be a map value.
    var subprogramArgumentMapValued = false
    /// The stack offsets (from the frame's top) a register may point at
    /// here, from the sources drawn (a join keeps both arms'). Most
    /// accesses through such a register are drawn inside the frame for
    /// every one of them: an access the verifier finds wholly outside the
    /// stack is refused, and a refused program tests nothing at run time.
    /// The rest still meet the frame's edges and beyond.
    var stackAt: [Register: Set<Int32>] = [:]
    /// The stack offsets r1 may point at in some local call.
    var subprogramArgumentStack: Set<Int32> = []

    /// Registers that hold a pointer or a number depending on the path.
    static let mixed: [Register] = [.r2, .r3, .r5]
    static let sizes: [AccessSize] = [.byte, .half, .word, .double]
    /// Stack offsets from r10: the whole frame, its top and bottom edges, and
    /// just outside it on either side.
    /// Stack offsets from r10: mostly the top 64 bytes (which the prologue
    /// may write), else deeper in the frame (never written), its bottom
    /// edge, and just outside the frame on either side.
    static let stackOffsets: [Int32] = [-8, -16, -24, -32, -40, -48, -56, -64, -8, -32, -64, -128, -200, -256, -384, -504, -512, -520, -4, 0, 8]

    public init(seed: UInt64, options: Options = Options()) {
        rng = SplitMix(state: seed)
        self.options = options
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &rng)] }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }
    mutating func label() -> String { nextLabel += 1; return "L\(nextLabel)" }
    mutating func add(_ instruction: Instruction) { items.append(.i(instruction)) }

    /// Writes into `dst` a value drawn among pointers (stack, packet, map
    /// value) and numbers (and adds `dst` to `mapValued` when the value may
    /// be a map value; a join's caller keeps it there if either arm does); the registers the program keeps are r6 = the
    /// context, r7 = data, r8 = the loop counter, r9 = a map value or a
    /// stack address, r0 = the result, r4 = loaded data. (The context is
    /// never mixed with others: the loader refuses a context access through
    /// a register that holds the context on some paths only, as the kernel
    /// does; it goes to bpf_tail_call only.)
    mutating func source(_ dst: Register) {
        var mapValue = false
        var stack: Set<Int32>? = nil
        switch Int.random(in: 0..<11, using: &rng) {
        case 0, 1, 4, 9, 10:
            let offset = pick(Self.stackOffsets)
            add(.mov(dst, .r10))
            add(.add(dst, offset))
            stack = [offset]
        case 2:
            add(.mov(dst, .r7))
            add(.add(dst, pick([0, 1, 8, 14, 40, 63, 64, 100])))
        case 3:
            add(.mov(dst, .r9))
            mapValue = mapValued.contains(.r9)
            stack = stackAt[.r9]
        case 5: add(.mov(dst, .r4))
        case 6: add(.mov(dst, pick([0, 8, 64, -8, 512])))
        case 7:
            add(.mov(dst, .r4))
            add(.alu(.w64, .and, dst: dst, .immediate(pick([7, 63, 0xff, 0x1f8]))))
        default:
            let src = pick(Self.mixed)
            add(.mov(dst, src))
            mapValue = mapValued.contains(src)
            stack = stackAt[src]
        }
        if mapValue { mapValued.insert(dst) } else { mapValued.remove(dst) }
        stackAt[dst] = stack
    }

    /// `source(dst)` on both arms of a join: `dst` may be a map value after
    /// it when it may be on either arm.
    mutating func joinSources(_ dst: Register, other: String, join: String) {
        source(dst)
        let first = mapValued.contains(dst), firstStack = stackAt[dst]
        items.append(.jump(join))
        items.append(.label(other))
        source(dst)
        if first { mapValued.insert(dst) }
        joinStack(dst, firstStack)
        items.append(.label(join))
    }

    /// After a join: `dst` may point at the stack offsets of either arm.
    mutating func joinStack(_ dst: Register, _ other: Set<Int32>?) {
        guard let other else { return }
        stackAt[dst, default: []].formUnion(other)
    }

    /// A branch on data the verifier cannot know (r4, r0, or the loop counter).
    mutating func unknownBranch(to target: String) {
        let register = pick([Register.r4, .r0, .r8])
        items.append(.compare(pick([.w64, .w32]), pick([.eq, .ne, .gt, .lt, .set]), register, .immediate(pick([0, 1, 2, 3, 0x40])), target))
    }

    /// A load through `base` into r4, then r0 ^= r4 (of `size` bytes at
    /// `offset`, else drawn; the offset drawn for `base` and the size).
    mutating func load(through base: Register, offset: Int32? = nil, size: AccessSize? = nil) {
        let size = size ?? pick(Self.sizes)
        let offset = offset ?? accessOffset(base, size: size)
        add(.load(size, dst: .r4, src: base, offset: Int16(offset)))
        add(.alu(.w64, .xor, dst: .r0, .register(.r4)))
    }

    /// A store of data (r4, r8 or a constant) through `base`.
    mutating func store(through base: Register, offset: Int32? = nil) {
        let size = pick(Self.sizes)
        let offset = offset ?? accessOffset(base, size: size)
        if chance(50) {
            add(.store(size, dst: base, offset: Int16(offset), src: pick([.r4, .r8])))
        } else {
            add(.storeImmediate(size, dst: base, offset: Int16(offset), imm: Int32.random(in: -300...300, using: &rng)))
        }
    }

    mutating func accessOffset() -> Int32 { pick([0, 0, 0, 1, 7, 8, 8, 16, 56, -8, -8, -16, -16, 60, 62, 64, 500, -500]) }

    /// An offset for a `size`-byte access through `base`: inside the 64-byte
    /// value, often at its last bytes, when `base` may be a map value;
    /// otherwise anywhere `accessOffset()` draws.
    mutating func accessOffset(_ base: Register, size: AccessSize) -> Int32 {
        let inValue = mapValued.contains(base)
        if let offsets = stackAt[base], !offsets.isEmpty, chance(90) {
            // Inside the frame for every offset the base may hold (and
            // inside the value when it may be a map value), when one is.
            let candidates = inValue ? [0, 0, 1, 7, 8, 16, 56, 60, 63].map { Self.valueOffset($0, size: size) }
                                     : [0, 0, 0, 1, 7, 8, 16, 56, -8, -8, -16, -16, -56, -64]
            let fits = candidates.filter { o in offsets.allSatisfy { $0 + o >= -512 && $0 + o + Int32(size.bytes) <= 0 } }
            if !fits.isEmpty { return pick(fits) }
        }
        guard inValue else { return accessOffset() }
        return Self.valueOffset(pick([0, 0, 1, 7, 8, 16, 56, 60, 63]), size: size)
    }

    /// `offset` moved down so that `size` bytes there fit the 64-byte value.
    static func valueOffset(_ offset: Int32, size: AccessSize) -> Int32 { min(offset, 64 - Int32(size.bytes)) }

    /// r1–r5 as numbers again (after a call, which leaves them undefined).
    mutating func redefineArguments() {
        for r in [Register.r1, .r2, .r3, .r5] { add(.mov(r, Int32.random(in: 0...64, using: &rng))) }
        mapValued.subtract([.r1, .r2, .r3, .r4, .r5])
        for r in [Register.r1, .r2, .r3, .r4, .r5] { stackAt[r] = nil }
    }

    /// One fragment.
    mutating func fragment(inLoop: Bool) {
        switch Int.random(in: 0..<16, using: &rng) {
        case 0, 1, 2:
            // A join: dst holds one of two sources, then is used as a base,
            // spilled and reloaded, or kept for later.
            let dst = pick(Self.mixed)
            let other = label(), join = label()
            // Half the time the branch's register is then set alike on both
            // arms, so the two states at the join differ in dst alone: the
            // shape in which a verifier that takes a pointer for a number
            // prunes the pointer's path.
            let alike = chance(50)
            let reset = Int32.random(in: 0...9, using: &rng)
            if alike { items.append(.compare(.w64, pick([.eq, .gt, .set]), .r4, .immediate(pick([0, 1, 0x40])), other)) } else { unknownBranch(to: other) }
            source(dst)
            let first = mapValued.contains(dst), firstStack = stackAt[dst]
            if alike { add(.mov(.r4, reset)) }
            items.append(.jump(join))
            items.append(.label(other))
            source(dst)
            if first { mapValued.insert(dst) }
            joinStack(dst, firstStack)
            if alike { add(.mov(.r4, reset)) }
            items.append(.label(join))
            // (A pointer spilled is a program that may leak an address,
            // which a campaign runs but cannot compare: not too often.)
            if chance(6) {
                // A map value goes to a slot that no later load of data
                // reads (-96), so no other register picks it up unseen.
                let slot = mapValued.contains(dst) ? -96 : pick([Int32(-8), -16, -24, -32])
                add(.store(.double, dst: .r10, offset: Int16(slot), src: dst))
                add(.load(.double, dst: dst, src: .r10, offset: Int16(slot)))
            }
            if chance(60) {
                if chance(70) { load(through: dst) } else { store(through: dst) }
            }
        case 3, 4:
            // A packet range check, then accesses at its edge.
            let k = pick([Int32(1), 8, 14, 16, 34, 60, 64, 100])
            let skip = label()
            add(.load(.word, dst: .r1, src: .r6, offset: 4))
            add(.mov(.r5, .r7))
            add(.add(.r5, k))
            mapValued.subtract([.r1, .r5])
            stackAt[.r1] = nil
            stackAt[.r5] = nil
            items.append(.compare(.w64, pick([.gt, .ge]), .r5, .register(.r1), skip))
            let size = pick(Self.sizes)
            let offset = k - Int32(size.bytes) + pick([0, 0, 0, 1, -1])
            if chance(60) {
                add(.load(size, dst: .r4, src: .r7, offset: Int16(offset)))
                add(.alu(.w64, .xor, dst: .r0, .register(.r4)))
            } else {
                add(.store(size, dst: .r7, offset: Int16(offset), src: .r0))
            }
            items.append(.label(skip))
        case 5, 6:
            // Direct stack traffic: writes (so that later reads may be
            // proven initialized) and reads (some of slots never written).
            let offset = chance(75) ? pick([Int32(-8), -16, -24, -32, -40, -48, -56, -64]) : pick([Int32(-72), -128, -256, -512])
            if chance(45) {
                add(.store(pick(Self.sizes), dst: .r10, offset: Int16(offset), src: .r0))
            } else {
                load(through: .r10, offset: offset)
            }
        case 7:
            // A map lookup with a key index 0–4 (4: absent, null), checked or
            // checked through a copy.
            add(.mov(.r1, Int32.random(in: 0...4, using: &rng)))
            add(.store(.word, dst: .r10, offset: -4, src: .r1))
            add(.loadImmediate64(dst: .r1, .mapByIndex(0)))
            add(.mov(.r2, .r10))
            add(.add(.r2, -4))
            add(.call(.helper(1)))
            add(.mov(.r4, 0))
            let skip = label()
            add(.mov(.r9, .r0))
            add(.mov(.r0, 0))
            items.append(.compare(.w64, .eq, .r9, .immediate(0), skip))
            mapValued.insert(.r9)
            stackAt[.r9] = nil
            let size = pick(Self.sizes)
            load(through: .r9, offset: Self.valueOffset(pick([0, 8, 56, 60, 63]), size: size), size: size)
            items.append(.label(skip))
            if chance(50) { add(.mov(.r9, .r10)); add(.add(.r9, -64)); mapValued.remove(.r9); stackAt[.r9] = [-64] }
            redefineArguments()
        case 8:
            // A helper with a memory argument drawn like a join's source.
            let buffer = pick(Self.mixed)
            let join = label(), other = label()
            unknownBranch(to: other)
            joinSources(buffer, other: other, join: join)
            add(.mov(.r3, buffer))
            add(.mov(.r1, .r6))
            add(.mov(.r2, pick([0, 2, 8])))
            add(.mov(.r4, pick([0, 1, 4, 8, 16, 64, -1])))
            add(.call(.helper(pick([189, 190]))))
            add(.mov(.r4, .r0))
            add(.mov(.r0, 0))
            redefineArguments()
        case 9:
            // A map update whose value pointer is mixed.
            add(.mov(.r1, Int32.random(in: 0...3, using: &rng)))
            add(.store(.word, dst: .r10, offset: -4, src: .r1))
            let value = pick(Self.mixed)
            let join = label(), other = label()
            unknownBranch(to: other)
            joinSources(value, other: other, join: join)
            add(.mov(.r3, value))
            add(.loadImmediate64(dst: .r1, .mapByIndex(0)))
            add(.mov(.r2, .r10))
            add(.add(.r2, -4))
            add(.mov(.r4, 0))
            add(.call(.helper(2)))
            add(.mov(.r4, .r0))
            add(.mov(.r0, 0))
            redefineArguments()
        case 10, 11:
            if options.localCalls && depth == 0 {
                let dst = Register.r1
                let join = label(), other = label()
                unknownBranch(to: other)
                joinSources(dst, other: other, join: join)
                if mapValued.contains(dst) { subprogramArgumentMapValued = true }
                subprogramArgumentStack.formUnion(stackAt[dst] ?? [])
                add(.mov(.r2, .r4))
                items.append(.call(Self.subprogramLabel))
                add(.mov(.r4, .r0))
                add(.mov(.r0, 0))
                redefineArguments()
            } else {
                add(.alu(.w64, pick([.add, .xor, .mul, .rsh, .lsh]), dst: .r4, .immediate(Int32.random(in: 1...13, using: &rng))))
            }
        case 12:
            if options.tailCalls && !inLoop {
                // r1: mostly the context, else a made-up one (which the
                // verifier refuses unless it is the context on every path).
                if !options.madeUpContexts || chance(88) {
                    add(.mov(.r1, .r6))
                } else if chance(50) {
                    // The context on one path, something else on the other.
                    let join = label(), other = label()
                    unknownBranch(to: other)
                    add(.mov(.r1, .r6))
                    items.append(.jump(join))
                    items.append(.label(other))
                    if chance(30) { add(.mov(.r1, .r6)); add(.add(.r1, 8)) } else { source(.r1) }
                    items.append(.label(join))
                } else {
                    source(.r1)
                }
                add(.loadImmediate64(dst: .r2, .mapByIndex(1)))
                add(.mov(.r3, pick([0, 0, 1, 5])))
                add(.call(.helper(12)))
                // bpf_tail_call returns nothing (it returns at all only when
                // it fails): r0 is undefined after it, as the kernel's
                // verifier has it, and a program reading it is not comparable.
                add(.mov(.r0, 0))
                add(.mov(.r4, .r8))
                redefineArguments()
            } else {
                add(.alu(.w64, .add, dst: .r4, .immediate(3)))
            }
        case 13:
            if !inLoop {
                // A loop whose head sees the mixed registers change from
                // iteration to iteration. A register that may be a map value
                // at the back edge may be one at the head too: the body is
                // drawn again assuming so until that holds (then every
                // register is taken as one).
                let start = items.count
                var atHead = mapValued
                let stackAtStart = stackAt
                for attempt in 0..<4 {
                    items.removeSubrange(start...)
                    mapValued = attempt == 3 ? Set(Self.mixed + [.r1, .r9]) : atHead
                    stackAt = stackAtStart
                    let head = label(), skip = label()
                    add(.mov(.r8, Int32.random(in: 1...4, using: &rng)))
                    items.append(.label(head))
                    for _ in 0..<Int.random(in: 1...3, using: &rng) { fragment(inLoop: true) }
                    let dst = pick(Self.mixed)
                    items.append(.compare(.w64, .set, .r8, .immediate(1), skip))
                    let before = mapValued.contains(dst), beforeStack = stackAt[dst]
                    source(dst)
                    if before { mapValued.insert(dst) }
                    joinStack(dst, beforeStack)
                    items.append(.label(skip))
                    add(.alu(.w64, .sub, dst: .r8, .immediate(1)))
                    items.append(.compare(.w64, .ne, .r8, .immediate(0), head))
                    add(.mov(.r8, 0))
                    if mapValued.isSubset(of: atHead) || attempt == 3 { break }
                    atHead.formUnion(mapValued)
                }
                mapValued.formUnion(atHead)
                // Around the loop: what the registers pointed at before it, or after any iteration.
                for (r, offsets) in stackAtStart { joinStack(r, offsets) }
            } else {
                add(.alu(.w64, .or, dst: .r4, .immediate(1)))
            }
        default:
            add(.alu(pick([.w64, .w32]), pick([.add, .sub, .and, .or, .xor, .rsh, .lsh, .arsh, .mul]), dst: .r4,
                     .immediate(pick([1, 3, 7, 8, 32, 63, 0xff, -1]))))
        }
    }

    static let subprogramLabel = "subprogram"

    /// The main program: prologue, 4–14 fragments, r0 back to a number, exit;
    /// then the subprogram local calls reach.
    public mutating func generate() -> (main: Program, target: Program) {
        items = []
        mapValued = []
        subprogramArgumentMapValued = false
        stackAt = [.r9: [-64]]
        subprogramArgumentStack = []
        add(.mov(.r6, .r1))
        add(.load(.word, dst: .r7, src: .r6, offset: 0))
        add(.load(.word, dst: .r4, src: .r6, offset: 4))
        add(.alu(.w64, .sub, dst: .r4, .register(.r7)))
        for r in [Register.r0, .r8] { add(.mov(r, 0)) }
        // Mostly: the top 64 bytes of the frame written, so that reads there
        // are of written stack and the program may be proven to read only
        // stack it wrote (the fact that lets a JIT skip its stack clear).
        if chance(70) {
            for offset in stride(from: Int16(-8), through: -64, by: -8) {
                add(.storeImmediate(.double, dst: .r10, offset: offset, imm: Int32.random(in: -1000...1000, using: &rng)))
            }
        }
        add(.mov(.r9, .r10))
        add(.add(.r9, -64))
        redefineArguments()
        for _ in 0..<Int.random(in: 4...14, using: &rng) { fragment(inLoop: false) }
        add(.exit)
        // The subprogram: r1 is a pointer or a number, r2 data. It accesses
        // through r1 and through its own frame, and returns a number.
        items.append(.label(Self.subprogramLabel))
        depth = 1
        mapValued = subprogramArgumentMapValued ? [.r1] : []
        stackAt = subprogramArgumentStack.isEmpty ? [:] : [.r1: subprogramArgumentStack]
        add(.mov(.r0, .r2))
        if chance(70) {
            add(.store(.double, dst: .r10, offset: -8, src: .r2))
            add(.store(.double, dst: .r10, offset: -16, src: .r2))
        }
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: let size = pick(Self.sizes)
                    add(.load(size, dst: .r3, src: .r1, offset: Int16(accessOffset(.r1, size: size))))
                    add(.alu(.w64, .xor, dst: .r0, .register(.r3)))
            case 1: let size = pick(Self.sizes)
                    add(.store(size, dst: .r1, offset: Int16(accessOffset(.r1, size: size)), src: .r2))
            case 2: add(.store(.double, dst: .r10, offset: Int16(pick([-8, -16, -64, -512])), src: .r2))
            default: add(.load(pick(Self.sizes), dst: .r3, src: .r10, offset: Int16(pick([-8, -16, -8, -16, -64, -512]))))
                     add(.alu(.w64, .xor, dst: .r0, .register(.r3)))
            }
        }
        add(.exit)
        depth = 0
        let main = Program(Code.assemble(items), name: "main")
        return (main, makeTarget())
    }

    /// The tail-call target: reads its context (whatever r1 was), checks a
    /// packet range and accesses it, reads and writes its stack, returns a
    /// number.
    mutating func makeTarget() -> Program {
        items = []
        let k = pick([Int32(8), 14, 64, 100, 1000])
        let skip = label()
        add(.load(.word, dst: .r2, src: .r1, offset: 0))
        add(.load(.word, dst: .r3, src: .r1, offset: 4))
        add(.mov(.r0, 0))
        add(.mov(.r4, .r2))
        add(.add(.r4, k))
        items.append(.compare(.w64, .gt, .r4, .register(.r3), skip))
        add(.load(.double, dst: .r0, src: .r2, offset: Int16(k - 8)))
        if chance(50) { add(.store(.byte, dst: .r2, offset: 0, src: .r0)) }
        items.append(.label(skip))
        if chance(50) { add(.store(.double, dst: .r10, offset: -16, src: .r0)) }
        add(.load(.double, dst: .r5, src: .r10, offset: Int16(pick([-8, -16, -256]))))
        add(.alu(.w64, .xor, dst: .r0, .register(.r5)))
        add(.exit)
        return Program(Code.assemble(items), name: "target")
    }
}
