import BPFISA
import BPFVerifier
import Testing

/// The exploration keeps states only at some pruning points, moves a
/// path's state on in place (a branch's other way waiting on the work
/// stack) and looks stored states up by a hash of their shape and
/// constants. None of that may let a path that reaches an access with
/// another value be pruned against one that made it safe, or go
/// unexplored: each program here has one unsafe way among safe ones, on
/// either side of a branch, before or after a join, and the access must
/// keep its check; the same program with only safe ways is the control,
/// fully proven.
struct PruningTests {
    /// data in r2, data_end in r3, 16 bytes known readable; a packet byte
    /// picks one of two constant offsets (`first` when it is not 0), which
    /// meet at a join; a byte at that offset is read.
    func join(first: Int32, second: Int32) -> [Instruction] {
        NegativeTests().packetProgram(checked: 16, [
            .load(.byte, dst: .r5, src: .r2, offset: 0),
            .branch(.w64, .eq, dst: .r5, .immediate(0), offset: 2),
            .alu(.w64, .mov, dst: .r6, .immediate(first)),
            .jump(offset: 1),
            .alu(.w64, .mov, dst: .r6, .immediate(second)),
            .alu(.w64, .mov, dst: .r7, .register(.r2)),
            .alu(.w64, .add, dst: .r7, .register(.r6)),
            .load(.byte, dst: .r0, src: .r7, offset: 0),
        ])
    }

    /// A loop of `rounds` iterations whose every iteration takes one of two
    /// ways through three branches (kept states are rare inside it); on one
    /// way of the last iteration only (`unsafeLast`), or never, the offset
    /// read becomes 64.
    func loop(rounds: Int32, unsafeLast: Bool) -> [Instruction] {
        NegativeTests().packetProgram(checked: 16, [
            .alu(.w64, .mov, dst: .r8, .immediate(0)),                  // the counter
            .alu(.w64, .mov, dst: .r6, .immediate(1)),
            // loop head
            .load(.byte, dst: .r5, src: .r2, offset: 1),
            .branch(.w64, .gt, dst: .r5, .immediate(100), offset: 1),
            .alu(.w64, .mov, dst: .r6, .immediate(2)),
            .branch(.w64, .gt, dst: .r5, .immediate(200), offset: 1),
            .alu(.w64, .mov, dst: .r6, .immediate(3)),
            .branch(.w64, .ne, dst: .r8, .immediate(rounds - 1), offset: 2),
            .branch(.w64, .ne, dst: .r5, .immediate(7), offset: 1),
            .alu(.w64, .mov, dst: .r6, .immediate(unsafeLast ? 64 : 4)),
            .alu(.w64, .mov, dst: .r7, .register(.r2)),
            .alu(.w64, .add, dst: .r7, .register(.r6)),
            .load(.byte, dst: .r0, src: .r7, offset: 0),
            .alu(.w64, .add, dst: .r8, .immediate(1)),
            .branch(.w64, .lt, dst: .r8, .immediate(rounds), offset: -13),
        ])
    }

    /// The slot of the last access (the offset read).
    func lastAccess(_ program: [Instruction]) -> Int {
        NegativeTests().slots(program).last!
    }

    @Test(arguments: [(Int32(4), Int32(64)), (64, 4), (64, 64)])
    func anUnsafeWayIntoAJoinKeepsItsCheck(_ first: Int32, _ second: Int32) throws {
        let program = join(first: first, second: second)
        let report = try verifyXDP(program).verification
        #expect(report.gaveUp == nil && report.refusal == nil, "\(report.log)")
        #expect(!report.proofs.isSafeAccess(at: lastAccess(program)), "\(report.log)")
        let control = join(first: 4, second: 8)
        let proven = try verifyXDP(control).verification
        #expect(proven.provesEverything, "\(proven.log)")
    }

    @Test(arguments: [Int32(3), 20])
    func anUnsafeWayInALoopKeepsItsCheck(_ rounds: Int32) throws {
        let program = loop(rounds: rounds, unsafeLast: true)
        let report = try verifyXDP(program).verification
        #expect(report.gaveUp == nil && report.refusal == nil, "\(report.log)")
        #expect(!report.proofs.isSafeAccess(at: lastAccess(program)), "\(report.log)")
        let control = loop(rounds: rounds, unsafeLast: false)
        let proven = try verifyXDP(control).verification
        #expect(proven.provesEverything, "\(proven.log)")
    }
}

/// A loop tested at its bottom: the exit (the back branch's fall-through)
/// keeps a state, so that the exits of later iterations prune against the
/// ones kept before. Each iteration leaves with another counter (k or
/// k + 1 after k iterations, up to 13; a packet byte picks when), still
/// live after the loop: no exit is included in another (their ranges
/// differ), and the ones that may leave with `unsafeAt` (6: neither the
/// first nor the last way explored) read at offset 64, which must keep its
/// check.
struct LoopExitPruningTests {
    func program(unsafeAt: Int32) -> [Instruction] {
        let body: [Instruction] = [
            .load(.byte, dst: .r8, src: .r2, offset: 1),                // the counter: 0 or 1
            .alu(.w64, .and, dst: .r8, .immediate(1)),
            .load(.byte, dst: .r5, src: .r2, offset: 0),
            .alu(.w64, .add, dst: .r8, .immediate(1)),                  // loop head
            .branch(.w64, .ge, dst: .r8, .immediate(13), offset: 7),    // out past the read
            .branch(.w64, .lt, dst: .r8, .register(.r5), offset: -3),   // the bottom test
            .alu(.w64, .mov, dst: .r6, .immediate(0)),                  // the exit
            .branch(.w64, .ne, dst: .r8, .immediate(unsafeAt), offset: 1),
            .alu(.w64, .mov, dst: .r6, .immediate(64)),
            .alu(.w64, .mov, dst: .r7, .register(.r2)),
            .alu(.w64, .add, dst: .r7, .register(.r6)),
            .load(.byte, dst: .r0, src: .r7, offset: 0),
        ]
        return NegativeTests().packetProgram(checked: 16, body)
    }

    @Test(arguments: [Int32(1), 6, 12])
    func anExitWithAnotherCounterIsExplored(_ unsafeAt: Int32) throws {
        let program = program(unsafeAt: unsafeAt)
        let report = try verifyXDP(program).verification
        #expect(report.gaveUp == nil && report.refusal == nil, "\(report.log)")
        #expect(!report.proofs.isSafeAccess(at: NegativeTests().slots(program).last!), "\(report.log)")
        // Only safe ways: the read is proven.
        let safe = self.program(unsafeAt: 100)
        let control = try verifyXDP(safe).verification
        #expect(control.gaveUp == nil && control.refusal == nil, "\(control.log)")
        #expect(control.proofs.isSafeAccess(at: NegativeTests().slots(safe).last!), "\(control.log)")
    }
}
