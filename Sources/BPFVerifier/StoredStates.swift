/// What the exploration charges to its work budget (`VerifierLimits.maxCost`).
///
/// One unit is about the work of copying or comparing one call frame's
/// registers: an instruction visit costs the state's depth (a step copies
/// its frames), comparing a new state with a stored one costs the depth,
/// storing one costs the depth, probing a group of stored states costs one
/// (plus one per eleven constants hashed), and walking eight nodes up the
/// exploration tree (to count loop iterations) costs one.
enum Cost {
    static let ancestorsPerUnit = 8
    static let registersPerUnit = 11
}

extension Analysis {
    /// A state kept at a pruning point, and the node it started.
    struct Stored {
        var node: Int32
        var state: State
    }
}

/// The states kept at pruning points, at most `perPoint` at each (the oldest
/// is dropped first), indexed so that a new state is compared only with the
/// stored states it could be included in.
///
/// The index rests on two necessary conditions of `State.isIncluded(in:)`:
/// the two states have the same call chain (depth and every frame's return
/// address), and wherever the stored state holds a constant number the new
/// state holds that same constant (only a constant is included in a
/// constant; no pointer or uninitialized register is). Stored states are
/// grouped at their pc by *shape* (call chain, and which registers hold
/// constants; a point keeps a short list of its shapes), and hashed into
/// buckets by shape and constants together (a 64-bit key, so a probe hashes
/// one integer, not the shape's arrays, and compares it with the point's
/// keys). A new state probes each shape at
/// its pc once and is compared only with one bucket's states: a superset of
/// the stored states that include it (a hash collision only adds
/// candidates), so pruning reaches the same verdicts as comparing it with
/// every stored state (`indexed: false` does that, for tests).
struct StoredStates {
    struct Shape: Equatable {
        var returnPCs: [Int]
        /// Registers holding a constant, as `frame * 11 + register`.
        var constantSlots: [Int16]
        /// A hash of both, compared first.
        var signature: UInt64

        static func == (a: Shape, b: Shape) -> Bool {
            a.signature == b.signature && a.returnPCs == b.returnPCs && a.constantSlots == b.constantSlots
        }
    }

    private struct Entry {
        var stored: Analysis.Stored
        var shape: Shape
    }

    private struct Point {
        /// Entry numbers, oldest first.
        var order: [Int32] = []
        /// The shapes of the states kept here, each with how many have it.
        var shapes: [(shape: Shape, count: Int)] = []
        /// Each entry's bucket (a hash of shape and constants), beside
        /// `order`. A point keeps at most `statesPerPoint` states, so a
        /// probe scans these words rather than looking a bucket up in a
        /// dictionary: no hashing, and no array per bucket to allocate
        /// when a state is kept and free when it is dropped (a loop whose
        /// counter is a constant keeps a new bucket on every iteration).
        var buckets: [UInt64] = []
    }

    private var points: [Point]
    private var entries: [Entry?] = []
    private var freeEntries: [Int32] = []
    let indexed: Bool
    /// States kept now, and at most at any time.
    private(set) var count = 0
    private(set) var peak = 0

    init(pointCount: Int, indexed: Bool) {
        points = Array(repeating: Point(), count: pointCount)
        self.indexed = indexed
    }

    /// The state stored last at `pc`.
    func last(at pc: Int) -> Analysis.Stored? {
        points[pc].order.last.map { entries[Int($0)]!.stored }
    }

    /// Calls `body` with every stored state at `state.pc` that may include
    /// `state` (and perhaps some that do not), until it returns false.
    func forEachCandidate(for state: State, cost: inout Int, _ body: (Analysis.Stored) -> Bool) {
        let pc = state.pc
        guard indexed else {
            for number in points[pc].order {
                cost += state.depth
                if !body(entries[Int(number)]!.stored) { return }
            }
            return
        }
        for item in points[pc].shapes {
            let shape = item.shape
            cost += 1 + shape.constantSlots.count / Cost.registersPerUnit
            guard shape.returnPCs.count == state.depth,
                  shape.returnPCs.indices.allSatisfy({ shape.returnPCs[$0] == state.frames[$0].returnPC }),
                  let key = Self.key(state, shape.constantSlots) else { continue }
            let bucket = Self.bucket(shape.signature, key)
            let buckets = points[pc].buckets
            for i in buckets.indices where buckets[i] == bucket {
                cost += state.depth
                if !body(entries[Int(points[pc].order[i])]!.stored) { return }
            }
        }
    }

    /// Keeps `stored` at its pc, dropping the oldest state there if `perPoint` are kept already.
    mutating func store(_ stored: Analysis.Stored, perPoint: Int, cost: inout Int) {
        let pc = stored.state.pc
        cost += stored.state.depth
        if points[pc].order.count >= perPoint, !points[pc].order.isEmpty {
            drop(points[pc].order.removeFirst(), at: pc)
            if indexed { points[pc].buckets.removeFirst() }
        } else {
            count += 1
            peak = max(peak, count)
        }
        var shape = Shape(returnPCs: [], constantSlots: [], signature: 0)
        var bucket: UInt64 = 0
        if indexed {
            // The shape's arrays are built only for a shape new at this point.
            let signature = Self.signature(stored.state)
            if let known = points[pc].shapes.firstIndex(where: { $0.shape.signature == signature && Self.has(stored.state, $0.shape) }) {
                points[pc].shapes[known].count += 1
                shape = points[pc].shapes[known].shape
            } else {
                shape = Shape(returnPCs: stored.state.frames.map(\.returnPC), constantSlots: [], signature: signature)
                for f in stored.state.frames.indices {
                    for r in 0..<RegisterFile.count {
                        if case .scalar(let s) = stored.state.frames[f].registers[r], s.isConstant { shape.constantSlots.append(Int16(f * 11 + r)) }
                    }
                }
                points[pc].shapes.append((shape, 1))
            }
            bucket = Self.bucket(signature, Self.key(stored.state, shape.constantSlots)!)
        }
        let entry = Entry(stored: stored, shape: shape)
        let number: Int32
        if let free = freeEntries.popLast() {
            number = free
            entries[Int(free)] = entry
        } else {
            number = Int32(entries.count)
            entries.append(entry)
        }
        points[pc].order.append(number)
        if indexed { points[pc].buckets.append(bucket) }
    }

    private mutating func drop(_ number: Int32, at pc: Int) {
        guard let entry = entries[Int(number)] else { return }
        entries[Int(number)] = nil
        freeEntries.append(number)
        guard indexed else { return }
        if let i = points[pc].shapes.firstIndex(where: { $0.shape == entry.shape }) {
            points[pc].shapes[i].count -= 1
            if points[pc].shapes[i].count == 0 { points[pc].shapes.remove(at: i) }
        }
    }

    /// A hash of a state's shape: its call chain and which registers hold constants.
    private static func signature(_ state: State) -> UInt64 {
        var hash: UInt64 = 0x8422_2325_cbf2_9ce4
        for f in state.frames.indices {
            hash = mix(hash, UInt64(bitPattern: Int64(state.frames[f].returnPC)))
            for r in 0..<RegisterFile.count {
                if case .scalar(let s) = state.frames[f].registers[r], s.isConstant { hash = mix(hash, UInt64(f * 11 + r)) }
            }
        }
        return hash
    }

    /// Whether `state` has `shape`.
    private static func has(_ state: State, _ shape: Shape) -> Bool {
        guard shape.returnPCs.count == state.depth else { return false }
        var next = 0
        for f in state.frames.indices {
            guard state.frames[f].returnPC == shape.returnPCs[f] else { return false }
            for r in 0..<RegisterFile.count {
                guard case .scalar(let s) = state.frames[f].registers[r], s.isConstant else { continue }
                guard next < shape.constantSlots.count, shape.constantSlots[next] == Int16(f * 11 + r) else { return false }
                next += 1
            }
        }
        return next == shape.constantSlots.count
    }

    private static func mix(_ hash: UInt64, _ value: UInt64) -> UInt64 {
        var h = (hash ^ value) &* 0x9e37_79b9_7f4a_7c15
        h ^= h >> 31
        return h
    }

    /// The bucket of a shape's signature and a hash of its constants.
    private static func bucket(_ signature: UInt64, _ key: UInt64) -> UInt64 {
        mix(signature, key)
    }

    /// A hash of the constants `state` holds at `slots`; nil if one of them is not a constant.
    private static func key(_ state: State, _ slots: [Int16]) -> UInt64? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for slot in slots {
            let f = Int(slot) / 11, r = Int(slot) % 11
            guard f < state.frames.count, case .scalar(let s) = state.frames[f].registers[r], let c = s.constant else { return nil }
            hash = mix(hash, c)
        }
        return hash
    }
}
