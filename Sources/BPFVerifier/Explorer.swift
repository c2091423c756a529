import BPFISA

/// Path-sensitive depth-first exploration with state pruning.
///
/// Pruning points are jump targets and function entries. A state reaching
/// one is pruned when it is included in a state seen there before. Each
/// such point starts a node of the exploration tree; a node is complete
/// when its whole subtree has been explored. Pruning against a complete
/// node keeps the termination argument (every run maps to a walk through
/// explored instruction visits in which completion times strictly
/// decrease, so no visit repeats and the number of visits bounds the run);
/// pruning against an incomplete one (an ancestor: a loop whose state
/// repeats) is sound for memory safety but proves nothing about termination.
extension Analysis {
    struct Node {
        var parent: Int32
        var outstanding: Int32
        var pc: Int32
        /// Ancestors at the same pc along the path (loop iterations so far).
        var iterations: Int32
        var completed: Bool
    }

    /// Visits and branches since a state was last kept, below which a
    /// pruning point that is not a checkpoint keeps none.
    static let visitsBetweenKept = 8
    static let branchesBetweenKept = 2

    struct WorkItem {
        var state: State
        var node: Int32
    }

    /// Explores every feasible path from the entry. Sets `gaveUp` when a
    /// limit is hit: instruction visits, or the work budget (`maxCost`).
    func explore() {
        var points = Array(repeating: false, count: instructions.count)
        // Checkpoints: pruning points where a state is always kept. Every
        // cycle of the control flow passes one (a loop's head is the target
        // of a jump back; recursion and callbacks go through a function entry).
        var checkpoints = points
        // Loop exits (below): kept always, but not counted as the last
        // state kept (see `visitsSinceKept`).
        var loopExits = points
        points[0] = true
        checkpoints[0] = true
        for (pc, instruction) in instructions.enumerated() {
            guard let target = instruction.target(at: pc), target >= 0, target < points.count else { continue }
            // A loop's exit where its test is at the bottom (the way a
            // branch back falls through): kept too, so that the exits of
            // successive iterations prune one another, as those of a loop
            // tested at the top do at the branch's target.
            if case .branch = instruction, target <= pc, pc + 1 < points.count {
                points[pc + 1] = true
                loopExits[pc + 1] = true
            }
            points[target] = true
            switch instruction {
            // A join: where a `goto` meets the way that falls in (the end of an if/else).
            case .jump, .jumpLong: checkpoints[target] = true
            case .branch: if target <= pc { checkpoints[target] = true }
            default: checkpoints[target] = true   // a function entry
            }
        }
        // Elsewhere a state is kept only when the path has come far enough
        // since the last one kept (the kernel's heuristic: two jumps and
        // eight instructions): states are compared at every pruning point,
        // but kept at every one they would mostly be dropped unused, each
        // costing a copy on the next write.
        var visitsSinceKept = 0, branchesSinceKept = 0
        var nodes: [Node] = []
        var seen = StoredStates(pointCount: instructions.count, indexed: indexStoredStates)
        defer { peakStoredStates = seen.peak }
        var work = [WorkItem(state: entryState(), node: -1)]
        let liveness = Liveness(instructions)
        var others: [State] = []

        func release(_ index: Int32) {
            var i = index
            while i >= 0 {
                nodes[Int(i)].outstanding -= 1
                guard nodes[Int(i)].outstanding == 0 else { return }
                nodes[Int(i)].completed = true
                i = nodes[Int(i)].parent
            }
        }

        while let item = work.popLast() {
            var state = item.state
            var node = item.node
            while true {
                let pc = state.pc
                if points[pc] {
                    state.forgetDeadRegisters(liveness.liveIn[pc])
                    state.forgetIrrelevantNumbers(liveness.relevantIn[pc])
                    state.forgetIrrelevantSpills(liveness.relevantSlotsIn[pc])
                    state.dropUnusedRanges()
                    state.dropSingularLinks()
                    // Pruned when included in a state stored here; a prune
                    // against a complete node keeps the termination argument.
                    var any = false, complete = false
                    seen.forEachCandidate(for: state, cost: &cost) { stored in
                        guard state.isIncluded(in: stored.state) else { return true }
                        any = true
                        if nodes[Int(stored.node)].completed { complete = true; return false }
                        return true
                    }
                    if any {
                        if !complete { stopTermination("instruction \(pc): a loop repeats a state the verifier cannot bound") }
                        release(node)
                        break
                    }
                    let spaced = visitsSinceKept >= Self.visitsBetweenKept && branchesSinceKept >= Self.branchesBetweenKept
                    if checkpoints[pc] || loopExits[pc] || spaced {
                        // A loop exit's state is kept for the exits of
                        // later iterations; it does not reset the spacing,
                        // or the pruning points just after the exit (where
                        // its ways join) would keep none: when what differs
                        // between iterations' exits is still live there (a
                        // counter read after the loop), exits never prune
                        // one another, and each would run the rest of the
                        // program unpruned.
                        if checkpoints[pc] || spaced {
                            visitsSinceKept = 0
                            branchesSinceKept = 0
                        }
                        // A new node; the path's hold on its parent passes to it.
                        var iterations: Int32 = 0
                        var ancestor = node, walked = 0
                        while ancestor >= 0, walked < 256 {
                            if nodes[Int(ancestor)].pc == Int32(pc) { iterations = nodes[Int(ancestor)].iterations + 1; break }
                            ancestor = nodes[Int(ancestor)].parent
                            walked += 1
                        }
                        cost += walked / Cost.ancestorsPerUnit
                        if iterations >= Int32(limits.unrollLimit), let last = seen.last(at: pc) {
                            if !policy.allowsPointerLeaks, state.widensPointer(toward: last.state) { refuse("instruction \(pc): a loop changes a pointer the verifier cannot follow") }
                            if state.widen(toward: last.state, lengthBounds: environment.r2IsInputLength) {
                                stackEscapes("instruction \(pc): a stack pointer widened to unknown in a loop")
                            }
                        }
                        nodes.append(Node(parent: node, outstanding: 1, pc: Int32(pc), iterations: iterations, completed: false))
                        node = Int32(nodes.count - 1)
                        if seen.count < limits.maxStoredStates {
                            seen.store(Stored(node: node, state: state), perPoint: limits.statesPerPoint, cost: &cost)
                        }
                    }
                }
                steps += 1
                visits[pc] += 1
                visitsSinceKept += 1
                if case .branch = instructions[pc] { branchesSinceKept += 1 }
                cost += state.depth
                if steps > limits.maxSteps {
                    gaveUp = "gave up after \(limits.maxSteps) instruction visits (the paths are too many or too long)"
                    return
                }
                if cost > limits.maxCost {
                    gaveUp = "gave up after \(steps) instruction visits: the verification work budget (\(limits.maxCost) cost units) is spent"
                    return
                }
                // The state moves on in place (no copy of its frames); a
                // branch's other successors wait on the work stack.
                others.removeAll(keepingCapacity: true)
                if !advance(&state, others: &others) { release(node); break }
                for extra in others {
                    nodes[Int(node)].outstanding += 1
                    work.append(WorkItem(state: extra, node: node))
                }
            }
        }
    }

    /// Moves `state` past one instruction in place, the way most
    /// instructions go (straight on, or a branch's first successor); a
    /// branch's or call's other successors are appended to `others`.
    /// Returns false when the path ends there. Updating in place keeps the
    /// state's frames uniquely owned, so a register write copies nothing.
    func advance(_ state: inout State, others: inout [State]) -> Bool {
        if refusal != nil { return false }   // refused: nothing more to learn
        let pc = state.pc
        switch instructions[pc] {
        case .alu(let width, let op, let dst, let operand):
            var fromStack = op != .mov && state[dst.index].isStack
            if case .register(let r) = operand, state[r.index].isStack { fromStack = true }
            state.pc = pc + 1
            alu(&state, width, op, dst: dst, operand, at: pc)
            noteUntracked(fromStack, state, dst: dst, at: pc)
        case .neg(let width, let dst):
            let fromStack = state[dst.index].isStack
            state.pc = pc + 1
            negate(&state, width, dst: dst, at: pc)
            noteUntracked(fromStack, state, dst: dst, at: pc)
        case .movsx(let width, let dst, let src, let bits):
            let fromStack = state[src.index].isStack
            state.pc = pc + 1
            moveSignExtend(&state, width, dst: dst, src: src, bits: Int(bits), at: pc)
            noteUntracked(fromStack, state, dst: dst, at: pc)
        case .byteSwap(let kind, let dst, let bits):
            let fromStack = state[dst.index].isStack
            state.pc = pc + 1
            byteSwap(&state, kind, dst: dst, bits: Int(bits), at: pc)
            noteUntracked(fromStack, state, dst: dst, at: pc)
        case .jump, .jumpLong:
            state.pc = instructions[pc].target(at: pc)!
        case .loadImmediate64(let dst, let kind):
            state.pc = pc + 1
            loadImmediate(&state, dst: dst, kind)
            state.pc = pc + 2
        case .immediate64Tail:
            return false   // never executed (validation keeps jumps off it)
        case .call(.kfunc):
            return false   // every engine stops the run here
        case .load(let size, let dst, let src, let offset):
            state.pc = pc + 1
            load(&state, size, dst: dst, src: src, offset: offset, signed: false, at: pc)
        case .loadSignExtend(let size, let dst, let src, let offset):
            state.pc = pc + 1
            load(&state, size, dst: dst, src: src, offset: offset, signed: true, at: pc)
        case .store, .storeImmediate, .atomic:
            state.pc = pc + 1
            store(&state, instructions[pc], at: pc)
        case .branch(let width, let cond, let dst, let operand, _):
            // The state is handed over (an empty one left in its place), not copied.
            guard let next = branch(exchange(&state, with: State(pc: pc, frames: [], packetRanges: [:])), width, cond, dst: dst, operand, target: instructions[pc].target(at: pc)!,
                                    at: pc, others: &others) else { return false }
            state = next
        case .call(.helper(let id)):
            let successors = callHelper(state, id: id, at: pc)
            return take(successors, &state, &others)
        case .call(.register(let r)):
            let successors = callThroughRegister(state, r, at: pc)
            return take(successors, &state, &others)
        case .call(.local):
            let successors = callLocal(state, target: instructions[pc].target(at: pc)!, at: pc)
            return take(successors, &state, &others)
        case .exit:
            let successors = exit(state, at: pc)
            return take(successors, &state, &others)
        }
        return true
    }

    /// The first of `successors` becomes `state`, the rest go to `others`.
    private func take(_ successors: [State], _ state: inout State, _ others: inout [State]) -> Bool {
        guard let first = successors.first else { return false }
        state = first
        others.append(contentsOf: successors.dropFirst())
        return true
    }

    /// An ALU operation that turns a stack pointer into something that is
    /// not one (an unknown number) loses track of where it points.
    /// `fromStack`: whether one of its inputs was a stack pointer.
    func noteUntracked(_ fromStack: Bool, _ after: State, dst: Register, at pc: Int) {
        guard fromStack, !after[dst.index].isStack else { return }
        stackEscapes("instruction \(pc): arithmetic makes a stack pointer a number the verifier does not follow")
    }
}

extension State {
    /// Makes every register that differs from `other` unknown, and keeps
    /// only the stack bytes both know written, so that a loop whose
    /// registers keep changing reaches a state that repeats. The result
    /// includes `self`. Returns whether a stack pointer became unknown (the
    /// verifier no longer follows it).
    ///
    /// `lengthBounds` (`mem` programs): a number known below the input's
    /// length in both states keeps what both bounds say, or the bound both
    /// have alike where one is implicit (`c + (lengthMin - c) <= L` for a
    /// constant c: a counter that moves with what is known of L); and
    /// widened numbers whose difference is the same constant in both states
    /// (two copies of a loop counter, or a counter and its copy moved by a
    /// constant) are linked (`ScalarLink`) with that difference, so that a
    /// bound learned on one still reaches the other.
    mutating func widen(toward other: State, lengthBounds: Bool = false) -> Bool {
        guard other.frames.count == frames.count else { return false }
        var lostStackPointer = false
        let before = self
        var widenedSlots: [(f: Int, r: Int)] = []
        for f in frames.indices {
            frames[f].stack.formIntersection(other.frames[f].stack)
            // Spilled slots both hold alike stay; the others are forgotten (unknown).
            let theirs = other.frames[f].spills
            frames[f].spills.removeAll { mine in !theirs.contains { $0.offset == mine.offset && $0.value.sameIgnoringLink(mine.value) } }
            for r in frames[f].registers.indices where !frames[f].registers[r].sameIgnoringLink(other.frames[f].registers[r]) {
                if case .uninitialized = frames[f].registers[r] { continue }
                if frames[f].registers[r].isStack { lostStackPointer = true }
                var widened = Scalar.unknown
                if lengthBounds, case .scalar(let mine) = frames[f].registers[r], case .scalar(let theirs) = other.frames[f].registers[r] {
                    // The same bound in both (constants' included), or what both explicit bounds say.
                    let a = before.lengthBound(of: mine), b = other.lengthBound(of: theirs)
                    if let bound = a == b ? a : LengthBound.weaker(mine.length, theirs.length) {
                        widened = widened.bounded(by: bound) ?? .unknown
                    }
                }
                frames[f].registers[r] = .scalar(widened)
                if case .scalar = before.frames[f].registers[r], case .scalar = other.frames[f].registers[r] {
                    widenedSlots.append((f, r))
                }
            }
        }
        lengthMin = min(lengthMin, other.lengthMin)
        // Relations both states keep: the same difference between two widened numbers.
        if widenedSlots.count > 1 {
            var nextID = before.freshID()
            var linked = Array(repeating: false, count: widenedSlots.count)
            for i in widenedSlots.indices where !linked[i] {
                let p = widenedSlots[i]
                var members: [(Int, Int64)] = []
                for j in widenedSlots.indices where j > i && !linked[j] {
                    let q = widenedSlots[j]
                    guard let d = before.difference(p, q), d == other.difference(p, q) else { continue }
                    members.append((j, d))
                }
                guard !members.isEmpty else { continue }
                let id = nextID
                nextID += 1
                linked[i] = true
                setLink(p, ScalarLink(id: id, delta: 0))
                for (j, d) in members {
                    linked[j] = true
                    setLink(widenedSlots[j], ScalarLink(id: id, delta: d))
                }
            }
        }
        dropUnusedRanges()
        return lostStackPointer
    }

    private mutating func setLink(_ slot: (f: Int, r: Int), _ link: ScalarLink) {
        guard case .scalar(var s) = frames[slot.f].registers[slot.r] else { return }
        s.link = link
        frames[slot.f].registers[slot.r] = .scalar(s)
    }

    /// `q - p` when it is a known constant in this state (both constants,
    /// or linked to each other), below `ScalarLink.maxDelta`; else nil.
    func difference(_ p: (f: Int, r: Int), _ q: (f: Int, r: Int)) -> Int64? {
        guard case .scalar(let a) = frames[p.f].registers[p.r], case .scalar(let b) = frames[q.f].registers[q.r] else { return nil }
        var d: Int64
        if let x = a.constant, let y = b.constant {
            d = Int64(bitPattern: y &- x)
        } else if let la = a.link, let lb = b.link, la.id == lb.id {
            d = lb.delta &- la.delta
        } else {
            return nil
        }
        guard d > -ScalarLink.maxDelta, d < ScalarLink.maxDelta else { return nil }
        return d
    }

    /// What `s` is known to be against the input's length: its own bound,
    /// or the one its maximum has below `lengthMin` (`umax + (lengthMin -
    /// umax) <= L`), the stronger.
    func lengthBound(of s: Scalar) -> LengthBound? {
        guard s.umax <= UInt64(LengthBound.maxSlack) else { return s.length }
        let implicit = LengthBound(slack: lengthMin - Int(s.umax), exact: false)
        return LengthBound.stronger(s.length, implicit)
    }
}

extension Value {
    /// Equal but perhaps for the numbers' links (whose ids differ from one
    /// loop iteration to the next): widening keeps such a register.
    func sameIgnoringLink(_ other: Value) -> Bool {
        guard case .scalar(var a) = self, case .scalar(var b) = other else { return self == other }
        a.link = nil
        b.link = nil
        return a == b
    }
}
