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
/// constants), and within a shape bucketed by a hash of those constants. A
/// new state probes each shape at its pc once and is compared only with one
/// bucket's states: a superset of the stored states that include it, so
/// pruning reaches the same verdicts as comparing it with every stored state
/// (`indexed: false` does that, for tests).
struct StoredStates {
    struct Shape: Hashable {
        var returnPCs: [Int]
        /// Registers holding a constant, as `frame * 11 + register`.
        var constantSlots: [Int16]
    }

    private struct Entry {
        var stored: Analysis.Stored
        var shape: Shape
        var key: UInt64
    }

    private struct Point {
        /// Entry numbers, oldest first.
        var order: [Int32] = []
        var groups: [Shape: [UInt64: [Int32]]] = [:]
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
        let point = points[state.pc]
        guard indexed else {
            for number in point.order {
                cost += state.depth
                if !body(entries[Int(number)]!.stored) { return }
            }
            return
        }
        for (shape, buckets) in point.groups {
            cost += 1 + shape.constantSlots.count / Cost.registersPerUnit
            guard shape.returnPCs.count == state.depth,
                  shape.returnPCs.indices.allSatisfy({ shape.returnPCs[$0] == state.frames[$0].returnPC }),
                  let key = Self.key(state, shape.constantSlots),
                  let numbers = buckets[key] else { continue }
            for number in numbers {
                cost += state.depth
                if !body(entries[Int(number)]!.stored) { return }
            }
        }
    }

    /// Keeps `stored` at its pc, dropping the oldest state there if `perPoint` are kept already.
    mutating func store(_ stored: Analysis.Stored, perPoint: Int, cost: inout Int) {
        let pc = stored.state.pc
        cost += stored.state.depth
        if points[pc].order.count >= perPoint, !points[pc].order.isEmpty {
            drop(points[pc].order.removeFirst(), at: pc)
        } else {
            count += 1
            peak = max(peak, count)
        }
        var shape = Shape(returnPCs: [], constantSlots: [])
        var key: UInt64 = 0
        if indexed {
            shape.returnPCs = stored.state.frames.map(\.returnPC)
            for (f, frame) in stored.state.frames.enumerated() {
                for (r, value) in frame.registers.enumerated() {
                    if case .scalar(let s) = value, s.isConstant { shape.constantSlots.append(Int16(f * 11 + r)) }
                }
            }
            key = Self.key(stored.state, shape.constantSlots)!
        }
        let entry = Entry(stored: stored, shape: shape, key: key)
        let number: Int32
        if let free = freeEntries.popLast() {
            number = free
            entries[Int(free)] = entry
        } else {
            number = Int32(entries.count)
            entries.append(entry)
        }
        points[pc].order.append(number)
        if indexed { points[pc].groups[shape, default: [:]][key, default: []].append(number) }
    }

    private mutating func drop(_ number: Int32, at pc: Int) {
        let entry = entries[Int(number)]!
        entries[Int(number)] = nil
        freeEntries.append(number)
        guard indexed else { return }
        points[pc].groups[entry.shape]![entry.key]!.removeAll { $0 == number }
        if points[pc].groups[entry.shape]![entry.key]!.isEmpty {
            points[pc].groups[entry.shape]![entry.key] = nil
            if points[pc].groups[entry.shape]!.isEmpty { points[pc].groups[entry.shape] = nil }
        }
    }

    /// A hash of the constants `state` holds at `slots`; nil if one of them is not a constant.
    private static func key(_ state: State, _ slots: [Int16]) -> UInt64? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for slot in slots {
            let f = Int(slot) / 11, r = Int(slot) % 11
            guard f < state.frames.count, case .scalar(let s) = state.frames[f].registers[r], let c = s.constant else { return nil }
            hash = (hash ^ c) &* 0x9e37_79b9_7f4a_7c15
            hash ^= hash >> 31
        }
        return hash
    }
}
