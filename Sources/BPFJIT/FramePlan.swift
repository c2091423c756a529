import BPFISA
import BPFRuntime

/// How an image lays out its BPF stack over local calls: per-function frames
/// when no run could tell them from the interpreter's eight fixed ones, else
/// the fixed scheme of `JITStackSizing` (the x86-64 backend's rule; arm64
/// keeps `JITStackUse.stackSize` and 512 bytes a call).
///
/// The interpreter's stack is always all eight frames, and a local call at
/// depth d runs with r10 = top − 512·d. Per-function frames put the callee's
/// r10 the caller's own frame size below the caller's instead, so that a
/// chain of calls needs only the sum of its frames. Three things make that
/// invisible, and all must hold (else the fixed scheme stays):
///
/// - The local calls are bounded: every jump stays inside its function, no
///   code address is taken, the call graph from the entry function has no
///   cycle and its longest chain has at most `ExecutionLimits.maxCallFrames`
///   frames. Then no call can exceed the depth limit either, so the
///   run-time depth check goes (in the fixed scheme too).
/// - No run reads a stack byte that was not written earlier in the same
///   frame (`JITProofs.stackReadsInitialized`, or, for a program whose r10
///   never escapes, `JITStackInitialization`): stale bytes of an earlier
///   call, which lie elsewhere here than in the interpreter, are never seen,
///   and neither is the zeroing at entry, which goes too.
/// - No stack pointer may be used beyond its frame (`JITStackSizing`'s
///   "escapes and reachable"), so nothing can walk from one frame into the
///   next.
///
/// A function's frame is then 0 bytes when it never names r10; the bytes
/// its direct `[r10 + offset]` accesses reach (rounded up to 16, at least
/// 16) when its r10 never escapes; else the verifier's `stackDepth`, or a
/// whole frame of 512. The stack is the largest sum of frames along a call
/// chain, and a call site moves r10 down by its caller's frame.
public struct JITFramePlan: Sendable, Equatable {
    /// BPF stack bytes the image reserves.
    public let stackSize: Int
    /// Per function (in `jitFunctionEntries` order): how far a local call
    /// from it moves r10 down, its own frame (512 in the fixed scheme).
    public let frameBytes: [Int]
    /// Whether local calls check the call depth at run time.
    public let checksCallDepth: Bool
    /// Whether the entry prologue zeroes the stack.
    public let clearsStack: Bool
    /// Whether frames are sized per function (else the fixed scheme).
    public let perFunctionFrames: Bool

    /// `functions`: entry and end slot of each function, in
    /// `jitFunctionEntries` order; `granule`: the backend's stack clear (see
    /// `JITStackSizing.stackSize`); `provenClearLimit`: a stack of up to
    /// this many bytes is cleared even when no read can see an unwritten
    /// byte (`JITOptions.provenStackClearLimit`, defence in depth).
    public init(_ program: Program, functions: [(entry: Int, end: Int)], proofs: JITProofs, granule: Int,
                provenClearLimit: Int = 0) {
        let instructions = program.instructions
        var all = JITStackUse()
        var uses = [JITStackUse](repeating: JITStackUse(), count: functions.count)
        var callees = [[Int]](repeating: [], count: functions.count)
        var indexOfEntry: [Int: Int] = [:]
        for (k, function) in functions.enumerated() { indexOfEntry[function.entry] = k }
        var contained = true   // every jump stays in its function, no code address is taken
        for (k, function) in functions.enumerated() {
            for pc in function.entry..<function.end {
                let instruction = instructions[pc]
                uses[k].note(instruction, at: pc, names: instruction.namedRegisters, proofs: proofs)
                switch instruction {
                case .call(.local):
                    if let target = instruction.target(at: pc), let callee = indexOfEntry[target] {
                        callees[k].append(callee)
                    } else {
                        contained = false
                    }
                case .jump, .jumpLong, .branch:
                    if let target = instruction.target(at: pc), target < function.entry || target >= function.end {
                        contained = false
                    }
                case .loadImmediate64(_, .codeAddress):
                    contained = false
                default:
                    break
                }
            }
        }
        for use in uses { all.merge(use) }   // the whole program: what each function noted
        let chain = contained ? Self.longestChain(callees) : nil
        let bounded = chain.map { $0 <= ExecutionLimits.maxCallFrames } ?? false
        checksCallDepth = all.localCalls && !bounded
        let reachable = all.unproven || (all.helperCalls && !proofs.helperArgumentsStayInFrames)
        // Without r10 nothing can read the stack at all; with r10 that never
        // escapes, the JIT's own dataflow decides it; otherwise only a proof can.
        let analysed = !all.usesFramePointer
            || (!all.escapes && (proofs.stackReadsWritten
                                 ?? JITStackInitialization.readsWritten(program, entries: functions.map(\.entry))))
        let initialized = analysed || proofs.stackReadsInitialized

        if all.localCalls && bounded && initialized && !(all.escapes && reachable) {
            let sizes = uses.map { use -> Int in
                guard use.usesFramePointer else { return 0 }
                guard use.escapes else { return JITStackSizing.roundedFrame(use.depth) }
                guard let depth = proofs.stackDepth else { return JITStackSizing.frameBytes }
                return JITStackSizing.roundedFrame(max(depth, use.depth))
            }
            frameBytes = sizes
            stackSize = Self.deepestSum(callees, sizes: sizes)
            perFunctionFrames = true
        } else {
            frameBytes = [Int](repeating: JITStackSizing.frameBytes, count: functions.count)
            var size = all.stackSize(proofs: proofs, granule: granule)
            // One frame that escapes but stays inside itself: as deep as proven.
            if !all.localCalls, all.escapes, !reachable, let depth = proofs.stackDepth {
                size = initialized ? JITStackSizing.roundedFrame(max(depth, all.depth))
                                   : JITStackSizing.partialFrame(max(depth, all.depth), granule: granule)
            }
            stackSize = size
            perFunctionFrames = false
        }
        // Defence in depth: what only a proof says is not trusted for small stacks.
        clearsStack = stackSize > 0 && (!initialized || (!analysed && stackSize <= provenClearLimit))
    }

    /// Frames along the longest call chain from function 0 (1: no calls), or
    /// nil when a cycle is reachable from it.
    static func longestChain(_ callees: [[Int]]) -> Int? {
        var memo = [Int?](repeating: nil, count: callees.count)
        var visiting = [Bool](repeating: false, count: callees.count)
        func frames(_ k: Int) -> Int? {
            if let known = memo[k] { return known }
            if visiting[k] { return nil }
            visiting[k] = true
            var deepest = 0
            for callee in callees[k] {
                guard let below = frames(callee) else { return nil }
                deepest = max(deepest, below)
            }
            visiting[k] = false
            memo[k] = deepest + 1
            return deepest + 1
        }
        return callees.isEmpty ? 1 : frames(0)
    }

    /// The largest sum of frame sizes along a call chain from function 0 (the graph is acyclic).
    static func deepestSum(_ callees: [[Int]], sizes: [Int]) -> Int {
        var memo = [Int?](repeating: nil, count: callees.count)
        func sum(_ k: Int) -> Int {
            if let known = memo[k] { return known }
            let total = sizes[k] + (callees[k].map(sum).max() ?? 0)
            memo[k] = total
            return total
        }
        return callees.isEmpty ? 0 : sum(0)
    }
}

extension JITStackSizing {
    /// A frame of `depth` bytes that is never cleared: a multiple of 16, at least 16.
    public static func roundedFrame(_ depth: Int) -> Int {
        min(frameBytes, max(16, (depth + 15) & ~15))
    }

    /// A frame of `depth` bytes cleared in `granule` steps above 64 bytes
    /// (as `stackSize` sizes one).
    public static func partialFrame(_ depth: Int, granule: Int) -> Int {
        if depth <= 64 { return max(16, (depth + 15) & ~15) }
        return min(frameBytes, (depth + granule - 1) / granule * granule)
    }
}

/// Whether every byte of the stack a program reads was written before on
/// every path in the same frame, for programs whose r10 never escapes
/// (`JITStackUse.escapes` false), where every stack access is a direct
/// `[r10 + offset]` inside the frame: a forward must-write dataflow over the
/// slots, one bit per byte of the frame. Loads and atomics read their bytes;
/// stores write them; calls change nothing of the caller's frame (a callee
/// has its own, and no helper is handed a stack pointer). Every function
/// entry starts with nothing written; jumps between functions keep r10, so
/// they carry their state along.
public enum JITStackInitialization {
    /// Programs larger than this are not analysed (false): 64 bytes a slot.
    public static let maxSlots = 1 << 16

    public static func readsWritten(_ program: Program, entries: [Int]) -> Bool {
        let instructions = program.instructions
        guard instructions.count <= maxSlots else { return false }
        var written = [SIMD8<UInt64>?](repeating: nil, count: instructions.count)
        var work: [Int] = []
        for entry in entries where entry < instructions.count {
            written[entry] = SIMD8(repeating: 0)
            work.append(entry)
        }
        while let pc = work.popLast() {
            let instruction = instructions[pc]
            guard var state = written[pc] else { continue }
            switch instruction {
            case .load(let size, _, .r10, let offset), .loadSignExtend(let size, _, .r10, let offset):
                guard let bytes = mask(offset: offset, size: size.bytes), bytes & state == bytes else { return false }
            case .atomic(let width, _, .r10, let offset, _):
                guard let bytes = mask(offset: offset, size: width == .w64 ? 8 : 4), bytes & state == bytes else { return false }
            case .store(let size, .r10, let offset, _), .storeImmediate(let size, .r10, let offset, _):
                guard let bytes = mask(offset: offset, size: size.bytes) else { return false }
                state |= bytes
            default:
                break
            }
            for next in instruction.jitSuccessors(at: pc) where next < instructions.count {
                let merged = written[next].map { $0 & state } ?? state
                if merged != written[next] {
                    written[next] = merged
                    work.append(next)
                }
            }
        }
        return true
    }

    /// Bits of the bytes `[r10 + offset, r10 + offset + size)`, bit `512 + offset` first; nil outside the frame.
    static func mask(offset: Int16, size: Int) -> SIMD8<UInt64>? {
        let low = JITStackSizing.frameBytes + Int(offset)
        guard low >= 0, low + size <= JITStackSizing.frameBytes else { return nil }
        var bits = SIMD8<UInt64>(repeating: 0)
        for byte in low..<(low + size) { bits[byte >> 6] |= 1 << UInt64(byte & 63) }
        return bits
    }
}
