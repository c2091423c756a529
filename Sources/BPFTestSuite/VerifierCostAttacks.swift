import BPFISA

/// Programs built to make a path-sensitive verifier work as hard as possible
/// for their size: deep call chains (every state carries eight frames), loops
/// whose pruning points each collect many states that never match, branch
/// fans that double the paths at every diamond, and long runs of jump targets
/// walked once per path. None reads memory; r1 (an unknown number when the
/// context is not described) is the only input. The verifier must verify
/// each or give up within its work budget.
public enum VerifierCostAttacks {
    public struct Attack: Sendable {
        public let name: String
        public let instructions: [Instruction]
    }

    /// `body` run at call depth `calls + 1`: function i is `call f(i+1); exit`,
    /// the innermost function is `body` (which ends in `exit`).
    public static func nested(calls: Int, _ body: [Instruction]) -> [Instruction] {
        var program: [Instruction] = []
        for _ in 0..<calls { program += [.call(.local(offset: 1)), .exit] }
        return program + body
    }

    /// A counting loop of `iterations` whose body is `points` jumps to the
    /// next instruction (each a pruning point), at depth `calls + 1`. The
    /// counter is a constant on every pass, so no state repeats until the
    /// verifier widens it, and every point keeps as many states as it may.
    /// `calls: 7, points: 200` is 219 instructions.
    public static func nestedCallLoop(calls: Int, points: Int, iterations: Int32 = 10_000) -> [Instruction] {
        var body: [Instruction] = [.alu(.w64, .mov, dst: .r6, .immediate(0))]
        body += Array(repeating: .jump(offset: 0), count: points)
        body += [.alu(.w64, .add, dst: .r6, .immediate(1)),
                 .branch(.w64, .lt, dst: .r6, .immediate(iterations), offset: Int16(-(points + 2))),
                 .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit]
        return nested(calls: calls, body)
    }

    /// `width` diamonds in a row, each on one bit of the input: the path
    /// that takes it adds its own amount to r2, so after k diamonds 2^k
    /// states differ. With `ranges`, r2 starts as the input's low byte (a
    /// range, not a constant), so states differ by ranges of equal width
    /// that never include one another; otherwise r2 is a constant.
    /// Then `run` jumps to the next instruction, each a pruning point every
    /// path crosses. Five instructions a diamond.
    public static func branchFan(calls: Int, width: Int, ranges: Bool, run: Int = 0) -> [Instruction] {
        var body: [Instruction] = [.alu(.w64, .mov, dst: .r2, .register(.r1))]
        body.append(ranges ? .alu(.w64, .and, dst: .r2, .immediate(0xff)) : .alu(.w64, .mov, dst: .r2, .immediate(0)))
        for i in 0..<width {
            body += [.alu(.w64, .mov, dst: .r3, .register(.r1)),
                     .alu(.w64, .rsh, dst: .r3, .immediate(Int32(i % 64))),
                     .alu(.w64, .and, dst: .r3, .immediate(1)),
                     .branch(.w64, .eq, dst: .r3, .immediate(0), offset: 1),
                     .alu(.w64, .add, dst: .r2, .immediate(Int32(256 &* (i + 1))))]
        }
        body += Array(repeating: .jump(offset: 0), count: run)
        body += [.alu(.w64, .mov, dst: .r0, .register(.r2)), .exit]
        return nested(calls: calls, body)
    }

    /// `count` counting loops one after the other, each of `iterations`
    /// passes over `points` pruning points: bounded, so the verifier unrolls
    /// every one of them.
    public static func loopChain(calls: Int, count: Int, points: Int, iterations: Int32) -> [Instruction] {
        var body: [Instruction] = []
        for _ in 0..<count {
            body.append(.alu(.w64, .mov, dst: .r6, .immediate(0)))
            body += Array(repeating: .jump(offset: 0), count: points)
            body += [.alu(.w64, .add, dst: .r6, .immediate(1)),
                     .branch(.w64, .lt, dst: .r6, .immediate(iterations), offset: Int16(-(points + 2)))]
        }
        body += [.alu(.w64, .mov, dst: .r0, .immediate(0)), .exit]
        return nested(calls: calls, body)
    }

    /// The described attack shapes at about `size` instructions (at most `size`), seven calls deep.
    public static func shapes(size: Int = 4_096) -> [Attack] {
        let calls = 7, head = 2 * calls
        let available = size - head
        return [
            Attack(name: "nested calls, loop of 200 points", instructions: nestedCallLoop(calls: calls, points: 200)),
            Attack(name: "nested calls, loop of \(available - 5) points",
                   instructions: nestedCallLoop(calls: calls, points: available - 5)),
            Attack(name: "fan of 30 constants, long run",
                   instructions: branchFan(calls: calls, width: 30, ranges: false, run: available - 4 - 30 * 5)),
            Attack(name: "fan of 12 ranges, long run",
                   instructions: branchFan(calls: calls, width: 12, ranges: true, run: available - 4 - 12 * 5)),
            Attack(name: "fan of \((available - 4) / 5) ranges",
                   instructions: branchFan(calls: calls, width: (available - 4) / 5, ranges: true)),
            Attack(name: "fan of \((available - 4) / 5) constants",
                   instructions: branchFan(calls: calls, width: (available - 4) / 5, ranges: false)),
            Attack(name: "40 loops of 100 points",
                   instructions: loopChain(calls: calls, count: 40, points: (available - 2) / 40 - 3, iterations: 1_000)),
            Attack(name: "fan of 6 ranges, loop of 600 points",
                   instructions: nested(calls: calls, Array(branchFan(calls: 0, width: 6, ranges: true).dropLast(2))
                       + nestedCallLoop(calls: 0, points: 600, iterations: 5_000))),
        ]
    }
}
