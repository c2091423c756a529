import BPFISA
import BPFRuntime

extension Analysis {
    /// A helper call: arguments read per the helper's arity, r0 its result,
    /// r1–r5 clobbered, the packet forgotten if the helper may move it.
    func callHelper(_ state: State, id: Int32?, at pc: Int) -> [State] {
        let description = id.flatMap { environment.helpers[$0] } ?? .unknown
        for i in 0..<min(max(description.arguments, 0), 5) {
            _ = read(state, Register(rawValue: UInt8(i + 1))!, at: pc)
        }
        var next = state
        next.pc = pc + 1
        switch description.result {
        case .scalar:
            next[0] = .unknown
        case .mapValueOrNull:
            if case .mapHandle(let handle) = state[1], let map = environment.maps[handle], map.lookupReturnsValue {
                next[0] = .mapValueOrNull(id: state.freshID(), Region(kind: .mapValue, size: map.valueSize, writable: map.writable))
            } else {
                next[0] = .unknown
            }
        case .tailCall:
            // Falls through when there is nothing to call (r0 as it was, a number);
            // otherwise the run continues elsewhere: at depth 1 it never comes
            // back, in a subprogram the target's r0 returns to the caller.
            next[0] = state[0].isInitialized ? .unknown : .uninitialized
            clobberArguments(&next)
            var successors = [next]
            if state.depth > 1 {
                var returned = state
                returned[0] = .unknown
                returned.forgetPacket()
                successors.append(returnToCaller(returned))
            }
            return successors
        }
        clobberArguments(&next)
        if description.movesPacket { next.forgetPacket() }
        return [next]
    }

    func clobberArguments(_ state: inout State) {
        for r in 1...5 { state[r] = .uninitialized }
    }

    /// A local call: a new frame whose r1–r5 are the caller's; none if the
    /// depth limit is reached (the run stops with an error there).
    func callLocal(_ state: State, target: Int, at pc: Int) -> [State] {
        guard state.depth < ExecutionLimits.maxCallFrames else { return [] }
        var next = state
        var callee = Array(repeating: Value.uninitialized, count: 11)
        for r in 1...5 { callee[r] = state[r] }
        callee[10] = .stack(offset: 0, variable: .zero)
        // What the caller keeps: r6–r9 (r0 and r1–r5 are set on return).
        for r in 0...5 { next[r] = .uninitialized }
        next.frames.append(Frame(registers: callee, returnPC: pc + 1))
        next.pc = target
        return [next]
    }

    /// Leaves the current (non-entry) frame: r0 goes to the caller, r1–r5 are clobbered.
    func returnToCaller(_ state: State) -> State {
        var next = state
        let callee = next.frames.removeLast()
        next[0] = callee.registers[0]
        clobberArguments(&next)
        next.pc = callee.returnPC
        return next
    }
}
