import BPFRuntime

/// The registers of one call frame and which bytes of its stack are
/// written. Caller frames keep only what survives the call (r6–r9);
/// `returnPC` is where the caller resumes.
struct Frame: Hashable, Sendable {
    var registers: RegisterFile
    var returnPC: Int
    /// Bytes of this frame's stack written on the path (a new frame: none).
    var stack = StackBits()
    /// What the frame is: an ordinary function, or the loader's loop around
    /// a callback and the callback itself (see `CallbackLoop`).
    var role: FrameRole = .function
    /// Registers spilled whole to 8-byte slots of this stack, by offset
    /// (see `Spill`); a slot not here reads back as an unknown number.
    var spills: [Spill] = []

    init(registers: RegisterFile, returnPC: Int, stack: StackBits = StackBits(), role: FrameRole = .function) {
        self.registers = registers
        self.returnPC = returnPC
        self.stack = stack
        self.role = role
    }

    /// A frame of `registers` (r0–r10).
    init(registers: [Value], returnPC: Int, stack: StackBits = StackBits(), role: FrameRole = .function) {
        self.init(registers: RegisterFile(registers), returnPC: returnPC, stack: stack, role: role)
    }

    /// The registers and the spilled values.
    var allValues: [Value] { spills.isEmpty ? Array(registers) : Array(registers) + spills.map(\.value) }
}

/// The part a frame plays in a callback loop (`bpf_loop`, `bpf_for_each_map_elem`).
enum FrameRole: Hashable, Sendable {
    case function
    /// The loop the loader put in place of the helper; its stack holds
    /// only what it hands the callback (a map element's key), read-only.
    case loopDriver
    /// The callback, called from the loop the helper call at `callSite` became.
    case callback(CallbackLoop.Kind, callSite: Int)
}

/// A set of bytes of one frame's stack, `[-512, 0)` from its r10: bit i
/// (word i / 64) is byte `i - 512`. Fewer bytes written is the more general
/// state, so one state includes another only if its set is a subset.
struct StackBits: Hashable, Sendable {
    // Eight words, stored inline (a state is copied on every step).
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    private var w4: UInt64 = 0, w5: UInt64 = 0, w6: UInt64 = 0, w7: UInt64 = 0
    static let frameSize = ExecutionLimits.stackSizePerFrame

    private subscript(word: Int) -> UInt64 {
        get {
            switch word {
            case 0: w0
            case 1: w1
            case 2: w2
            case 3: w3
            case 4: w4
            case 5: w5
            case 6: w6
            default: w7
            }
        }
        set {
            switch word {
            case 0: w0 = newValue
            case 1: w1 = newValue
            case 2: w2 = newValue
            case 3: w3 = newValue
            case 4: w4 = newValue
            case 5: w5 = newValue
            case 6: w6 = newValue
            default: w7 = newValue
            }
        }
    }

    /// Marks `[low, high)` written (the part inside the frame).
    mutating func insert(_ low: Int, _ high: Int) {
        var offset = max(low, -Self.frameSize)
        while offset < min(high, 0) {
            let index = offset + Self.frameSize
            self[index >> 6] |= UInt64(1) << UInt64(index & 63)
            offset += 1
        }
    }

    /// The first byte of `[low, high)` not written (or outside the frame), if any.
    func firstMissing(_ low: Int, _ high: Int) -> Int? {
        var offset = low
        while offset < high {
            let index = offset + Self.frameSize
            guard index >= 0, offset < 0, self[index >> 6] & (UInt64(1) << UInt64(index & 63)) != 0 else { return offset }
            offset += 1
        }
        return nil
    }

    /// Whether every byte of `[low, high)` is written (false when part of it lies outside the frame).
    func contains(_ low: Int, _ high: Int) -> Bool { firstMissing(low, high) == nil }

    func isSubset(of other: StackBits) -> Bool {
        w0 & ~other.w0 | w1 & ~other.w1 | w2 & ~other.w2 | w3 & ~other.w3
            | w4 & ~other.w4 | w5 & ~other.w5 | w6 & ~other.w6 | w7 & ~other.w7 == 0
    }

    mutating func formIntersection(_ other: StackBits) {
        w0 &= other.w0; w1 &= other.w1; w2 &= other.w2; w3 &= other.w3
        w4 &= other.w4; w5 &= other.w5; w6 &= other.w6; w7 &= other.w7
    }

    /// How many bytes are written.
    var count: Int {
        w0.nonzeroBitCount + w1.nonzeroBitCount + w2.nonzeroBitCount + w3.nonzeroBitCount
            + w4.nonzeroBitCount + w5.nonzeroBitCount + w6.nonzeroBitCount + w7.nonzeroBitCount
    }
}

/// An abstract machine state: where execution is, the frames, and what is
/// known readable from each packet id.
struct State: Hashable, Sendable {
    var pc: Int
    var frames: [Frame]
    /// Per packet id k: `data + v_k + range <= data_end` is known.
    var packetRanges: [Int: Int]
    /// The references acquired on the path and not yet released, oldest first.
    var references: [AcquiredReference] = []
    /// `mem` programs: the input's length L is known to be at least this
    /// (`VerifierEnvironment.r2IsInputLength`); 0 otherwise.
    var lengthMin = 0

    subscript(register: Int) -> Value {
        get { frames[frames.count - 1].registers[register] }
        set { frames[frames.count - 1].registers[register] = newValue }
    }

    var depth: Int { frames.count }

    /// Every value of every frame.
    func allValues() -> some Sequence<Value> { frames.lazy.flatMap(\.allValues) }

    /// Whether a value of some frame, a register or a spilled slot
    /// (`Spill`), satisfies `predicate` (indexed in place: no frame is
    /// copied, as iterating `allValues()` does).
    func anyValue(_ predicate: (Value) -> Bool) -> Bool {
        for f in frames.indices {
            for r in 0..<RegisterFile.count where predicate(frames[f].registers[r]) { return true }
            for i in frames[f].spills.indices where predicate(frames[f].spills[i].value) { return true }
        }
        return false
    }

    /// Calls `body` with every value of every frame, its registers and its
    /// spilled slots (indexed in place).
    func forEachValue(_ body: (Value) -> Void) {
        for f in frames.indices {
            for r in 0..<RegisterFile.count { body(frames[f].registers[r]) }
            for i in frames[f].spills.indices { body(frames[f].spills[i].value) }
        }
    }

    /// An id no register uses.
    func freshID() -> Int {
        var high = -1
        forEachValue { value in
            if let id = value.packetID ?? value.nullID ?? value.referenceID ?? value.linkID { high = max(high, id) }
        }
        for id in packetRanges.keys { high = max(high, id) }
        for reference in references { high = max(high, reference.id) }
        return high + 1
    }

    /// Replaces every value (in every frame) for which `transform` returns one.
    mutating func rewriteAll(_ transform: (Value) -> Value?) {
        for f in frames.indices {
            for r in frames[f].registers.indices {
                if let new = transform(frames[f].registers[r]) { frames[f].registers[r] = new }
            }
            for i in frames[f].spills.indices {
                if let new = transform(frames[f].spills[i].value) { frames[f].spills[i].value = new }
            }
        }
    }

    /// After a helper that may move the packet: no packet pointer or end is trusted.
    /// `lost`: what they become (an unknown number, or under a policy
    /// without pointer leaks unreadable, as the kernel's `mark_reg_invalid`).
    mutating func forgetPacket(lost: Value = .unknown) {
        rewriteAll { value in
            switch value {
            case .packet, .packetEnd: lost
            default: nil
            }
        }
        packetRanges = [:]
    }

    /// Drops links (`ScalarLink`) no other register shares: they say
    /// nothing, and would keep states that differ only in them apart (the
    /// kernel's `clear_singular_ids`).
    mutating func dropSingularLinks() {
        // Most states hold no link: then nothing is counted (no dictionary).
        guard anyValue({ $0.linkID != nil }) else { return }
        // A state holds a few dozen values at most: counting each link's
        // holders by a scan allocates nothing (a dictionary would, at every
        // pruning point).
        let before = self
        func isSingular(_ id: Int) -> Bool {
            var holders = 0
            return !before.anyValue { value in
                if value.linkID == id { holders += 1 }
                return holders > 1
            }
        }
        guard anyValue({ $0.linkID.map(isSingular) ?? false }) else { return }
        rewriteAll { value in
            guard case .scalar(var s) = value, let id = s.link?.id, isSingular(id) else { return nil }
            s.link = nil
            return .scalar(s)
        }
    }

    /// Drops ranges of ids no register holds any more.
    mutating func dropUnusedRanges() {
        guard !packetRanges.isEmpty else { return }
        // Few ids and few registers: look each id up, and copy the
        // dictionary only when one goes.
        var unused: [Int] = []
        for id in packetRanges.keys where !anyValue({ $0.packetID == id }) {
            unused.append(id)
        }
        for id in unused { packetRanges[id] = nil }
    }

    /// Whether every concrete state `self` stands for is one `old` stands for.
    ///
    /// Registers that share an id in `old` must share one in `self` (a
    /// function from old ids to new ids), and what `old` knows readable of a
    /// packet id `self` must know too.
    func isIncluded(in old: State) -> Bool {
        guard pc == old.pc, frames.count == old.frames.count, references.count == old.references.count,
              lengthMin >= old.lengthMin else { return false }
        // A quick pass without the id bookkeeping rules most candidates out
        // (innermost frame first: callers' frames are most often alike).
        for f in frames.indices.reversed() {
            guard frames[f].returnPC == old.frames[f].returnPC else { return false }
            // What the old state knew written, this one must know too.
            guard old.frames[f].stack.isSubset(of: frames[f].stack) else { return false }
            for r in 0..<RegisterFile.count where !roughlyIncluded(frames[f].registers[r], in: old.frames[f].registers[r]) {
                return false
            }
            // A slot the old state knew spilled, this one must know spilled with less.
            for spill in old.frames[f].spills {
                guard let new = frames[f].spilled(at: spill.offset), roughlyIncluded(new, in: spill.value) else { return false }
            }
        }
        var packetMap = SmallIDMap()
        var nullMap = SmallIDMap()
        var referenceMap = IDMap()
        var linkMap = LinkMap()
        for f in frames.indices {
            guard frames[f].returnPC == old.frames[f].returnPC else { return false }
            for r in 0..<RegisterFile.count {
                guard included(frames[f].registers[r], in: old.frames[f].registers[r], old: old, packetMap: &packetMap, nullMap: &nullMap,
                               referenceMap: &referenceMap, linkMap: &linkMap) else { return false }
            }
            for spill in old.frames[f].spills {
                guard let new = frames[f].spilled(at: spill.offset),
                      included(new, in: spill.value, old: old, packetMap: &packetMap, nullMap: &nullMap,
                               referenceMap: &referenceMap, linkMap: &linkMap) else { return false }
            }
        }
        return true
    }

    /// A one-to-one correspondence of ids: two references must not become
    /// one (the old state would release both, the new one the same twice).
    struct IDMap {
        var forward: [Int: Int] = [:], backward: [Int: Int] = [:]
        mutating func match(old: Int, new: Int) -> Bool {
            if let mapped = forward[old] { return mapped == new }
            if let mapped = backward[new] { return mapped == old }
            forward[old] = new
            backward[new] = old
            return true
        }
    }

    /// Links of the old state matched to links of the new one: registers
    /// linked in the old state (`r7 = r6 + d`) must be linked in the new one
    /// with the same difference (one new id per old id, every delta moved
    /// by the same shift). A link the old state lacks is a fact it did not
    /// use, so the new state may have it.
    struct LinkMap {
        var forward: [Int: (id: Int, shift: Int64)] = [:]
        mutating func match(old: ScalarLink?, new: ScalarLink?) -> Bool {
            guard let old else { return true }
            guard let new else { return false }
            let shift = new.delta &- old.delta
            if let mapped = forward[old.id] { return mapped.id == new.id && mapped.shift == shift }
            forward[old.id] = (new.id, shift)
            return true
        }
    }

    /// `included` without ids and packet ranges: a necessary condition.
    private func roughlyIncluded(_ new: Value, in old: Value) -> Bool {
        switch (new, old) {
        case (_, .uninitialized): return true
        case (.uninitialized, _): return false
        // A pointer is never included in a number, however unknown: the
        // number's paths dereference nothing, so they saw none of the
        // pointer's stack reads, writes or escapes (the kernel's regsafe).
        case (.scalar(let a), .scalar(let b)): return a.isSubset(of: b)
        case (.packet(_, let a, let va), .packet(_, let b, let vb)): return a == b && vb.contains(va)
        case (.reference(_, let a, let na), .reference(_, let b, let nb)): return a == b && na == nb
        case (.mapValueOrNull(_, let ra), .mapValueOrNull(_, let rb)): return ra == rb
        case (.innerMapOrNull(_, let ma), .innerMapOrNull(_, let mb)): return ma == mb
        default: return new == old || (new.isPointer && old.isPointer && sameKind(new, old))
        }
    }

    private func sameKind(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.stack(let fa, let x, let va), .stack(let fb, let y, let vb)): fa == fb && x == y && vb.contains(va)
        case (.region(let ra, let x, let va), .region(let rb, let y, let vb)): ra == rb && x == y && vb.contains(va)
        default: false
        }
    }

    private func included(_ new: Value, in old: Value, old oldState: State,
                          packetMap: inout SmallIDMap, nullMap: inout SmallIDMap, referenceMap: inout IDMap,
                          linkMap: inout LinkMap) -> Bool {
        switch (new, old) {
        case (_, .uninitialized): return true
        case (.uninitialized, _): return false
        case (.scalar(let a), .scalar(let b)): return a.isSubset(of: b) && linkMap.match(old: b.link, new: a.link)
        case (.reference(let ia, let a, let na), .reference(let ib, let b, let nb)):
            return a == b && na == nb && referenceMap.match(old: ib, new: ia)
        case (.context(let a), .context(let b)): return a == b
        case (.stack(let fa, let a, let va), .stack(let fb, let b, let vb)): return fa == fb && a == b && vb.contains(va)
        case (.packet(let ia, let a, let va), .packet(let ib, let b, let vb)):
            guard a == b, vb.contains(va) else { return false }
            if let mapped = packetMap[ib] { guard mapped == ia else { return false } } else { packetMap[ib] = ia }
            if let need = oldState.packetRanges[ib] {
                guard let have = packetRanges[ia], have >= need else { return false }
            }
            return true
        case (.packetEnd, .packetEnd): return true
        case (.region(let ra, let a, let va), .region(let rb, let b, let vb)):
            return ra == rb && a == b && vb.contains(va)
        case (.mapValueOrNull(let ia, let ra), .mapValueOrNull(let ib, let rb)):
            guard ra == rb else { return false }
            if let mapped = nullMap[ib] { return mapped == ia }
            nullMap[ib] = ia
            return true
        case (.mapHandle(let a), .mapHandle(let b)): return a == b
        case (.innerMap(let a), .innerMap(let b)): return a == b
        case (.innerMapOrNull(let ia, let ma), .innerMapOrNull(let ib, let mb)):
            guard ma == mb else { return false }
            if let mapped = nullMap[ib] { return mapped == ia }
            nullMap[ib] = ia
            return true
        default: return false
        }
    }
}

/// A reference acquired on a path: its id (shared by the registers holding
/// it), its kind and the instruction that acquired it.
struct AcquiredReference: Hashable, Sendable {
    var id: Int
    var kind: ReferenceKind
    var pc: Int
}
