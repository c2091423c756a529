import BPFISA
import BPFRuntime

/// A loop the loader put in place of a callback helper call (`bpf_loop`,
/// `bpf_for_each_map_elem`): a function of its own that calls `callback`
/// by a bpf-to-bpf call once per iteration (see docs/ARCHITECTURE.md,
/// "Callback helpers"). The verifier does not walk the loop itself: it
/// verifies the callback as the kernel does, with the argument types the
/// helper gives it, and requires its result to be 0 or 1.
public struct CallbackLoop: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `bpf_loop(nr_loops, callback, ctx, flags)`: callback(index, ctx).
        case loop
        /// `bpf_for_each_map_elem(map, callback, ctx, flags)`: callback(map, key, value, ctx).
        case forEachMapElement

        /// The helper's name and number, as errors name it.
        public var helperName: String {
            switch self {
            case .loop: "bpf_loop (181)"
            case .forEachMapElement: "bpf_for_each_map_elem (164)"
            }
        }
    }

    public var kind: Kind
    /// The slot where the callback starts.
    public var callback: Int

    public init(kind: Kind, callback: Int) {
        self.kind = kind
        self.callback = callback
    }

    /// The kernel's `BPF_MAX_LOOPS`: `bpf_loop` refuses more iterations (-E2BIG).
    public static let maxLoops: UInt64 = 1 << 23
    /// The bytes of the loop function's stack that hold the key handed to a
    /// `bpf_for_each_map_elem` callback: it starts at the frame's r10 - 512.
    public static let keyArea = ExecutionLimits.stackSizePerFrame
    /// At most this many iterations of one loop: `bpf_loop`'s limit, or a
    /// map's elements (a 32-bit position).
    static func iterationBound(_ kind: Kind) -> UInt64 {
        kind == .loop ? maxLoops : 1 << 32
    }
}

extension Analysis {
    /// A call of a callback loop: the caller goes on with an unknown r0 (the
    /// iteration count or an error); the callback is explored in a frame
    /// below the loop's, with the arguments the kernel's verifier gives it
    /// (`set_loop_callback_state`, `set_map_elem_callback_state`).
    func callCallbackLoop(_ state: State, _ loop: CallbackLoop, driver: Int, at pc: Int) -> [State] {
        guard state.depth < ExecutionLimits.maxCallFrames else { return [] }
        let name = loop.kind.helperName
        let r1 = read(state, .r1, at: pc, flows: false)
        let context = read(state, .r3, at: pc)
        _ = read(state, .r4, at: pc, flows: false)
        switch context {
        case .stack: break
        case .scalar(let s) where s.constant == 0: break
        default:
            refuse("instruction \(pc): \(name): the callback context (r3) must be a stack pointer or null (r3 is \(context.summary))")
            return []
        }
        var arguments = Array(repeating: Value.uninitialized, count: 11)
        var driverStack = StackBits()
        switch loop.kind {
        case .loop:
            arguments[1] = .scalar(Scalar(unsigned: 0, CallbackLoop.maxLoops - 1))
            arguments[2] = context
        case .forEachMapElement:
            guard case .mapHandle(let handle) = r1, let map = environment.maps[handle] else {
                refuse("instruction \(pc): \(name): r1 must be a map (r1 is \(r1.summary))")
                return []
            }
            guard map.lookupReturnsValue, let keySize = map.keySize, keySize <= CallbackLoop.keyArea else {
                refuse("instruction \(pc): \(name): the map in r1 is not one whose elements can be iterated (array or hash maps)")
                return []
            }
            arguments[1] = r1
            arguments[2] = .stack(frame: state.depth, offset: -CallbackLoop.keyArea, variable: .zero)
            arguments[3] = .region(Region(kind: .mapValue, size: map.valueSize, writable: map.writable), offset: 0, variable: .zero)
            arguments[4] = context
            driverStack.insert(-CallbackLoop.keyArea, -CallbackLoop.keyArea + keySize)
            stackDepth = max(stackDepth, CallbackLoop.keyArea)
        }
        // The caller keeps r6–r9; r0 is the loop's result, r1–r5 are clobbered.
        var after = state
        after.pc = pc + 1
        after[0] = .unknown
        clobberArguments(&after)
        // The continuation does not see the callback's paths: if they may move
        // the packet, no packet pointer of the caller is trusted afterwards.
        if mayMovePacket(from: loop.callback) { after.forgetPacket(lost: lostPointer) }
        guard state.depth + 2 <= ExecutionLimits.maxCallFrames else { return [after] }   // the call of the callback stops the run
        var inner = state
        for r in 0...5 { inner[r] = .uninitialized }
        var driverRegisters = Array(repeating: Value.uninitialized, count: 11)
        driverRegisters[10] = .stack(frame: state.depth, offset: 0, variable: .zero)
        inner.frames.append(Frame(registers: driverRegisters, returnPC: pc + 1, stack: driverStack, role: .loopDriver))
        arguments[10] = .stack(frame: state.depth + 1, offset: 0, variable: .zero)
        inner.frames.append(Frame(registers: arguments, returnPC: driver, role: .callback(loop.kind, callSite: pc)))
        inner.pc = loop.callback
        let nesting = inner.frames.reduce(0) { $0 + ($1.role == .loopDriver ? 1 : 0) }
        if nesting > callbackLoopBounds.count { callbackLoopBounds.append(CallbackLoop.iterationBound(loop.kind)) }
        else { callbackLoopBounds[nesting - 1] = max(callbackLoopBounds[nesting - 1], CallbackLoop.iterationBound(loop.kind)) }
        return [after, inner]
    }

    /// Whether a call of the function at `entry` may reach a helper that moves
    /// the packet (an undescribed helper, a call through a register, or a
    /// described one that does), through the local calls it makes.
    func mayMovePacket(from entry: Int) -> Bool {
        if let known = callbackMovesPacket[entry] { return known }
        let moves = reachesPacketMove(from: entry)
        callbackMovesPacket[entry] = moves
        return moves
    }

    private func reachesPacketMove(from entry: Int) -> Bool {
        let entries = functionEntries
        var seen: Set<Int> = [], work = [entry]
        while let start = work.popLast() {
            guard seen.insert(start).inserted, start >= 0, start < instructions.count else { continue }
            let end = entries.first { $0 > start } ?? instructions.count
            for pc in start..<end {
                switch instructions[pc] {
                case .call(.helper(let id)):
                    if (environment.helpers[id] ?? .unknown).movesPacket { return true }
                case .call(.register):
                    return true
                case .call(.local):
                    if let target = instructions[pc].target(at: pc) { work.append(target) }
                default:
                    break
                }
            }
        }
        return false
    }

    /// A callback's result must be 0 (go on) or 1 (stop), as the kernel
    /// requires at a callback's exit.
    func checkCallbackReturn(_ r0: Value, _ kind: CallbackLoop.Kind, callSite: Int, at pc: Int) {
        if case .scalar(let s) = r0, s.umax <= 1 { return }
        refuse("instruction \(pc): the callback of \(kind.helperName) (called at instruction \(callSite)) must return 0 or 1 (r0 is \(r0.summary))")
    }

    /// Whether the path runs inside a callback.
    func inCallback(_ state: State) -> Bool {
        state.frames.contains { if case .callback = $0.role { true } else { false } }
    }

    /// The key a `bpf_for_each_map_elem` callback gets is read-only and lives
    /// only during the call: no write through it, and it may not be stored
    /// anywhere (the kernel's `PTR_TO_MAP_KEY`). Inside a callback, stack
    /// accesses must stay inside the frame they point into (the kernel
    /// refuses them everywhere); the context is the caller's stack.
    func checkCallbackAccess(_ state: State, base: Value, write: Bool, problem: String?, at pc: Int) {
        guard case .stack(let frame, _, _) = base, frame < state.depth else { return }
        if write, state.frames[frame].role == .loopDriver {
            refuse("instruction \(pc): write into the map key a bpf_for_each_map_elem callback gets (it is read-only)")
        } else if let problem, inCallback(state) {
            refuse("instruction \(pc): in a callback: \(problem)")
        }
    }

    /// A value stored to memory must not be a pointer to a callback's key.
    func checkKeyEscape(_ state: State, _ value: Value, at pc: Int) {
        guard case .stack(let frame, _, _) = value, frame < state.depth, state.frames[frame].role == .loopDriver else { return }
        refuse("instruction \(pc): the map key pointer of a bpf_for_each_map_elem callback is stored to memory (it does not outlive the call)")
    }
}
