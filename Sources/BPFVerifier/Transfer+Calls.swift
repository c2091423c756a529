import BPFISA
import BPFRuntime

extension Analysis {
    /// A helper call: arguments read per the helper's arity, its memory
    /// arguments checked (bounds, and that what it reads of the stack is
    /// written), r0 its result, r1–r5 clobbered, the packet forgotten if the
    /// helper may move it.
    func callHelper(_ state: State, id: Int32?, at pc: Int) -> [State] {
        if let reason = environment.poisonedInstructions[pc] {
            refuse("instruction \(pc): reachable, but \(reason)")
            return []
        }
        let described = id.flatMap { environment.helpers[$0] }
        let description = described ?? .unknown
        let memory = description.memoryArguments
        let memoryRegisters = Set((memory ?? []).map(\.register))
        let name = id.map { "helper \($0)" } ?? "a helper called through a register"
        checkHelperConditions(state, description, name: name, at: pc)
        for i in 0..<min(max(description.arguments, 0), 5) {
            let number = i + 1
            let isMemory = memory == nil || memoryRegisters.contains(number)
            let value = read(state, Register(rawValue: UInt8(number))!, at: pc, flows: isMemory)
            checkArgumentLeak(value, number: number, description, name: name, at: pc)
            if value.isStack {
                if memory == nil {
                    stackEscapes("instruction \(pc): a stack pointer in r\(number) goes to \(name), whose memory use is not described")
                } else if !memoryRegisters.contains(number) {
                    stackEscapes("instruction \(pc): a stack pointer in r\(number) goes to \(name) as an argument not described as memory")
                }
            }
        }
        var checked = state
        var inBounds = memory != nil
        var problem: String? = memory == nil ? "instruction \(pc): \(name): its memory arguments are not described" : nil
        for argument in memory ?? [] {
            guard (1...5).contains(argument.register) else { inBounds = false; continue }
            let base = state[argument.register]
            checkNullChecked(base, "r\(argument.register) of \(name)", at: pc)
            let size = memorySize(argument.size, state)
            let write = argument.access == .write
            if size == 0 { continue }   // touches nothing
            // What a helper writes is not taken as written (it may fail first).
            touchStack(&checked, base: base, offset: 0, size: size, read: !write, write: false, at: pc)
            guard let size else {
                if case .region = base {   // as for loads and stores: the slab's elements lie side by side
                    refuse("instruction \(pc): \(name): the size of the memory at r\(argument.register) (\(base.summary)) is not bounded")
                }
                inBounds = false
                if problem == nil { problem = "instruction \(pc): \(name): the size of the memory at r\(argument.register) is not known" }
                continue
            }
            if write { checkCallbackAccess(state, base: base, write: true, problem: nil, at: pc) }
            if write, case .region(let region, _, _) = base, !region.writable {
                refuse("instruction \(pc): \(name): write into map forbidden: r\(argument.register) points into read-only \(region.kind == .mapValue ? "map value" : "global data")")
            }
            if let why = accessProblem(state, base: base, offset: 0, size: size, write: write, atomic: false) {
                if case .region = base {
                    refuse("instruction \(pc): \(name): r\(argument.register) (\(base.summary)): \(why)")
                }
                inBounds = false
                if problem == nil { problem = "instruction \(pc): \(name): r\(argument.register) (\(base.summary)): \(why)" }
            }
        }
        if described != nil {
            var handle: UInt64? = nil
            if case .mapHandle(let h) = state[1] { handle = h }
            if let seen = helperProofs[pc] {
                helperProofs[pc] = HelperCallProof(mapHandle: seen.mapHandle == handle ? handle : nil,
                                                   memoryArgumentsInBounds: seen.memoryArgumentsInBounds && inBounds)
            } else {
                helperProofs[pc] = HelperCallProof(mapHandle: handle, memoryArgumentsInBounds: inBounds)
            }
            if let problem, helperProblems[pc] == nil { helperProblems[pc] = problem }
        }
        if state[0].isStack, description.result == .tailCall {
            stackEscapes("instruction \(pc): a stack pointer in r0 at a tail call")
        }
        var next = checked
        next.pc = pc + 1
        forgetSpillsWrittenByHelper(&next, state, memory: memory)
        for number in 1...5 where description.releases(number) { release(&next, number: number, name: name, at: pc) }
        switch description.result {
        case .scalar:
            next[0] = .unknown
        case .acquiresReference(let kind):
            let id = next.freshID()
            next.references.append(AcquiredReference(id: id, kind: kind, pc: pc))
            next[0] = .reference(id: id, offset: 0, maybeNull: true)
        case .mapValueOrNull:
            if let map = lookedUpMap(state), map.lookupReturnsValue {
                next[0] = .mapValueOrNull(id: state.freshID(), Region(kind: .mapValue, size: map.valueSize, writable: map.writable))
            } else if let map = lookedUpMap(state), let inner = map.innerTemplate {
                next[0] = .innerMapOrNull(id: state.freshID(), InnerMap(inner))
            } else {
                next[0] = .unknown
            }
        case .tailCall:
            // Falls through when there is nothing to call (r0 as it was, a number);
            // otherwise the run continues elsewhere: at depth 1 it never comes
            // back, in a subprogram the target's r0 returns to the caller.
            // r1–r5 keep their values: every engine leaves them as they were
            // when there is nothing to call (the tail-call corpus checks it),
            // so a second tail call may reuse r1, the context.
            next[0] = state[0].isInitialized ? .unknown : .uninitialized
            var successors = [next]
            if state.depth > 1 {
                var returned = checked
                // The program it ran may have written anywhere in the run's stack (its accesses are its own).
                returned.forgetAllSpills()
                returned[0] = .unknown
                returned.forgetPacket(lost: lostPointer)
                successors.append(returnToCaller(returned))
            }
            return successors
        }
        clobberArguments(&next)
        if description.movesPacket { next.forgetPacket(lost: lostPointer) }
        return [next]
    }

    /// The bytes a memory argument may span (its largest size), or nil when not known.
    func memorySize(_ size: MemoryArgument.Size, _ state: State) -> Int? {
        func map() -> MapDescription? { lookedUpMap(state) }
        switch size {
        case .keySize: return map()?.keySize
        case .valueSize: return map()?.valueSize
        case .constant(let n): return n >= 0 ? n : nil
        case .register(let r):
            guard (1...5).contains(r), case .scalar(let s) = state[r], s.fits32 else { return nil }
            return Int(s.umax)
        }
    }

    /// The map r1 holds: one the program names, or an inner map of a map of maps.
    func lookedUpMap(_ state: State) -> MapDescription? {
        switch state[1] {
        case .mapHandle(let handle): environment.maps[handle]
        case .innerMap(let map): map.description
        default: nil
        }
    }

    func clobberArguments(_ state: inout State) {
        for r in 1...5 { state[r] = .uninitialized }
    }

    /// A local call: a new frame whose r1–r5 are the caller's; none if the
    /// depth limit is reached (the run stops with an error there).
    func callLocal(_ state: State, target: Int, at pc: Int) -> [State] {
        if let loop = environment.callbackLoops[target] { return callCallbackLoop(state, loop, driver: target, at: pc) }
        guard state.depth < ExecutionLimits.maxCallFrames else { return [] }
        var next = state
        var callee = Array(repeating: Value.uninitialized, count: 11)
        for r in 1...5 { callee[r] = state[r] }
        callee[10] = .stack(frame: state.depth, offset: 0, variable: .zero)
        // What the caller keeps: r6–r9 (r0 and r1–r5 are set on return).
        for r in 0...5 { next[r] = .uninitialized }
        next.frames.append(Frame(registers: callee, returnPC: pc + 1))
        next.pc = target
        return [next]
    }

    /// Leaves the current (non-entry) frame: r0 goes to the caller, r1–r5 are clobbered.
    /// The frame dies: a pointer into it may not outlive it (refused in r0,
    /// as the kernel's "cannot return stack pointer to the caller"; no other
    /// register or tracked memory of the caller can hold one).
    func returnToCaller(_ state: State) -> State {
        var next = state
        let dying = next.frames.count - 1
        if case .stack(let frame, _, _) = next[0], frame >= dying {
            refuse("instruction \(state.pc): cannot return stack pointer to the caller (r0 points into the returning frame)")
        }
        let callee = next.frames.removeLast()
        next[0] = callee.registers[0]
        clobberArguments(&next)
        next.pc = callee.returnPC
        return next
    }
}
