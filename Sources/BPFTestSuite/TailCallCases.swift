import BPFISA
import BPFRuntime

/// One tail-call test every engine runs: the programs for the slots of one
/// program array (the map the programs load as map 0), the program to run,
/// its input, and what it must come to. Expectations follow the kernel's
/// semantics (see docs/ARCHITECTURE.md, "Tail calls"), never an engine's run.
public struct TailCallCase: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        /// r0, and the bytes the input must start with afterwards.
        case value(UInt64, output: [UInt8] = [])
        /// The run stops with `bpf_tail_call`'s "not a program array" at this pc, naming this r2.
        case notAProgramArray(pc: Int, value: UInt64)
        /// The run stops out of bounds at this pc of the program it was in.
        case outOfBounds(pc: Int, address: UInt64)
    }

    public var name: String
    public var maxEntries: Int
    public var slots: [Int: Program]
    public var main: Program
    public var input: [UInt8]
    public var instructionLimit: UInt64
    public var expected: Outcome

    public init(_ name: String, maxEntries: Int = 8, slots: [Int: Program] = [:], main: Program,
                input: [UInt8] = Array(repeating: 0, count: 64), instructionLimit: UInt64 = 10_000_000, expected: Outcome) {
        self.name = name
        self.maxEntries = maxEntries
        self.slots = slots
        self.main = main
        self.input = input
        self.instructionLimit = instructionLimit
        self.expected = expected
    }

    public var description: String { name }

    /// What a run came to, in the terms of `expected`: `run` returns r0 and
    /// the input memory afterwards; the errors the corpus expects become
    /// outcomes (a `bpf_tail_call` failure only when it is exactly "not a
    /// program array" naming the corpus's r2, 0x1234), any other is rethrown.
    public func outcome(of run: () throws -> (UInt64, [UInt8])) throws -> Outcome {
        do {
            let (r0, output) = try run()
            if case .value(_, let prefix) = expected { return .value(r0, output: Array(output.prefix(prefix.count))) }
            return .value(r0)
        } catch let error as ExecutionError {
            switch error {
            case .helperFailed(let pc, TailCalls.helperID, _) where error == .notAProgramArray(pc: pc, value: 0x1234):
                return .notAProgramArray(pc: pc, value: 0x1234)
            case .outOfBounds(let pc, let address, _, _):
                return .outOfBounds(pc: pc, address: address)
            default:
                throw error
            }
        }
    }
}

/// The tail-call corpus: a leaf call, chains of 1 to 4, the limit (direct
/// and indirect), empty slots that do not count, the count across local
/// calls, registers kept on a fall-through, indices out of range, tail calls
/// from a subprogram, programs of different stack sizes, and the errors.
public enum TailCallCases {
    /// The maximum number of tail calls per run (the kernel's MAX_TAIL_CALL_CNT).
    public static let limit = 33

    /// `r0 = value; exit`.
    public static func returns(_ value: Int32, _ name: String = "leaf") -> Program {
        Program([.mov(.r0, value), .exit], name: name)
    }

    /// Tail-calls `slot` (a constant: direct on the x86-64 JIT); returns 99 when it falls through.
    public static func caller(slot: Int32) -> Program {
        Code { Code.Item.tailCall(index: slot); Instruction.mov(.r0, 99); Instruction.exit }.program("caller")
    }

    /// Stage k of a chain of `length` tail calls: marks byte k, tail-calls slot k + 1; the last returns 100 + length.
    public static func stage(_ k: Int, of length: Int) -> Program {
        Code {
            Instruction.stb(.r1, Int16(k), Int32(k + 1))
            if k < length {
                Code.Item.tailCall(index: Int32(k + 1))
                Instruction.mov(.r0, Int32(500 + k))
            } else {
                Instruction.mov(.r0, Int32(100 + length))
            }
            Instruction.exit
        }.program("stage\(k)")
    }

    /// Counts its runs in the first word of the input and tail-calls itself (slot 0).
    public static func counter(indirect: Bool = false, viaSubprogram: Bool = false) -> Program {
        Code {
            Instruction.ldw(.r6, .r1, 0)
            Instruction.add(.r6, 1)
            Instruction.stw(.r1, 0, .r6)
            if viaSubprogram {
                Instruction.mov(.r8, .r1)                   // r1–r5 do not survive a local call
                Code.Item.call("sub")
                Instruction.mov(.r1, .r8)
            } else if indirect {
                Instruction.ldw(.r7, .r1, 4)
                Code.Item.tailCall(indexIn: .r7)
            } else {
                Code.Item.tailCall(index: 0)
            }
            Instruction.ldw(.r0, .r1, 0)
            Instruction.exit
            if viaSubprogram {
                Code.Item.label("sub")
                Code.Item.tailCall(index: 0)
                Instruction.mov(.r0, 0)
                Instruction.exit
            }
        }.program("counter")
    }

    static func count(_ n: Int) -> [UInt8] { [UInt8(n), 0, 0, 0] }

    /// Tail-calls slot 1 from a subprogram that set r6 and r7; the caller adds its r6–r9.
    public static let fromSubprogram = Code {
        Instruction.mov(.r6, 1000)
        Instruction.mov(.r7, 2000)
        Instruction.mov(.r8, 3000)
        Instruction.mov(.r9, 4000)
        Code.Item.call("sub")
        Instruction.add(.r0, .r6)
        Instruction.add(.r0, .r7)
        Instruction.add(.r0, .r8)
        Instruction.add(.r0, .r9)
        Instruction.exit
        Code.Item.label("sub")
        Instruction.mov(.r6, 1)
        Instruction.mov(.r7, 2)
        Code.Item.tailCall(index: 1)
        Instruction.mov(.r0, 5)
        Instruction.add(.r0, .r6)
        Instruction.exit
    }.program("fromSubprogram")

    /// Keeps a slot of its frame across a subprogram with a frame of its own
    /// that tail-calls slot 1 (per-function frames on x86-64): returns the
    /// target's r0, or the subprogram's slot on a fall-through, plus 40.
    public static let fromSubprogramWithFrames = Code {
        Instruction.storeImmediate(.double, dst: .r10, offset: -8, imm: 40)
        Code.Item.call("sub")
        Instruction.load(.double, dst: .r1, src: .r10, offset: -8)
        Instruction.add(.r0, .r1)
        Instruction.exit
        Code.Item.label("sub")
        Instruction.storeImmediate(.double, dst: .r10, offset: -16, imm: 3)
        Code.Item.tailCall(index: 1)
        Instruction.load(.double, dst: .r0, src: .r10, offset: -16)
        Instruction.exit
    }.program("fromSubprogramWithFrames")

    /// Clobbers r6–r9, uses its stack, returns 7 + 10.
    public static let clobbering = Code {
        Instruction.mov(.r6, 7)
        Instruction.mov(.r7, 8)
        Instruction.mov(.r8, 9)
        Instruction.mov(.r9, 10)
        Instruction.store(.double, dst: .r10, offset: -8, src: .r6)
        Instruction.load(.double, dst: .r0, src: .r10, offset: -8)
        Instruction.add(.r0, .r9)
        Instruction.exit
    }.program("clobbering")

    /// No stack -> eight frames (local calls) -> one frame -> slot 3; each reads its fresh stack.
    static let noStack = caller(slot: 1)
    static let bigStack = Code {
        Instruction.load(.double, dst: .r6, src: .r10, offset: -8)
        Instruction.mov(.r7, 0x11)
        Instruction.store(.double, dst: .r10, offset: -8, src: .r7)
        Instruction.mov(.r8, .r1)
        Code.Item.call("deeper")
        Instruction.mov(.r1, .r8)
        Instruction.add(.r6, .r0)
        Instruction.stw(.r1, 8, .r6)
        Code.Item.tailCall(index: 2)
        Instruction.mov(.r0, 98)
        Instruction.exit
        Code.Item.label("deeper")
        Instruction.load(.double, dst: .r0, src: .r10, offset: -8)
        Instruction.mov(.r2, 0x22)
        Instruction.store(.double, dst: .r10, offset: -16, src: .r2)
        Instruction.load(.double, dst: .r2, src: .r10, offset: 504)
        Instruction.add(.r0, .r2)
        Instruction.exit
    }.program("big")
    static let oneFrame = Code {
        Instruction.load(.double, dst: .r0, src: .r10, offset: -8)
        Instruction.load(.double, dst: .r6, src: .r10, offset: -16)
        Instruction.add(.r0, .r6)
        Instruction.mov(.r6, 0x33)
        Instruction.store(.double, dst: .r10, offset: -24, src: .r6)
        Instruction.stw(.r1, 12, .r6)
        Code.Item.tailCall(index: 3)
        Instruction.add(.r0, 1000)
        Instruction.exit
    }.program("oneframe")

    /// `r2 = 0x1234` (no program array) for the tail call at pc 3.
    static let notAnArray = Program([.loadImmediate64(dst: .r2, .value(0x1234)), .mov(.r3, 0), .tailCallHelper, .exit], name: "bad")

    /// Reads 8 bytes at address 16: out of bounds at its pc 2.
    static let faulty = Program([.mov(.r0, 1), .mov(.r6, 0), .load(.double, dst: .r0, src: .r6, offset: 16), .exit], name: "faulty")

    /// Spins about 4,000 instructions, then tail-calls itself.
    static let spin = Code {
        Instruction.mov(.r6, 0)
        Code.Item.label("loop")
        Instruction.add(.r6, 1)
        Code.Item.branch(.lt, .r6, 2000, "loop")
        Code.Item.tailCall(index: 0)
        Instruction.mov(.r0, 1)
        Instruction.exit
    }.program("spin")

    static func index(_ value: UInt64) -> Program {
        Code {
            Instruction.loadImmediate64(dst: .r2, .mapByIndex(0))
            Instruction.loadImmediate64(dst: .r3, .value(value))
            Instruction.tailCallHelper
            Instruction.mov(.r0, 99)
            Instruction.exit
        }.program("index")
    }

    public static let all: [TailCallCase] = {
        var cases = [
            TailCallCase("leaf", slots: [1: returns(7)], main: caller(slot: 1), expected: .value(7)),
            TailCallCase("leaf, empty slot", main: caller(slot: 1), expected: .value(99)),
        ]
        for length in 1...4 {
            cases.append(TailCallCase("chain of \(length)", slots: Dictionary(uniqueKeysWithValues: (1...length).map { ($0, stage($0, of: length)) }),
                                      main: stage(0, of: length),
                                      expected: .value(UInt64(100 + length), output: (0...length).map { UInt8($0 + 1) } + [0])))
        }
        cases += [
            TailCallCase("the 34th tail call falls through", slots: [0: counter()], main: counter(),
                         expected: .value(UInt64(limit + 1), output: count(limit + 1))),
            TailCallCase("the limit, indirect", slots: [0: counter(indirect: true)], main: counter(indirect: true),
                         expected: .value(UInt64(limit + 1), output: count(limit + 1))),
            TailCallCase("calls to empty slots do not count", slots: [0: counter()], main: Code {
                for _ in 0..<40 { Code.Item.tailCall(index: 5) }
                Code.Item.tailCall(index: 0)
                Instruction.mov(.r0, 1)
                Instruction.exit
            }.program("emptyFirst"), expected: .value(UInt64(limit), output: count(limit))),
            TailCallCase("the count is shared across local calls", slots: [0: counter(viaSubprogram: true)],
                         main: counter(viaSubprogram: true), expected: .value(UInt64(limit + 1), output: count(limit + 1))),
            TailCallCase("a failed tail call keeps r0-r5", main: Code {
                Instruction.mov(.r0, 42)
                Instruction.mov(.r4, 5)
                Instruction.mov(.r5, 6)
                Code.Item.tailCall(index: 3)
                Instruction.add(.r0, .r3)
                Instruction.add(.r0, .r4)
                Instruction.add(.r0, .r5)
                Instruction.exit
            }.program("keeps"), expected: .value(56)),
            TailCallCase("index = max_entries", maxEntries: 4, slots: [1: returns(7), 3: returns(9)], main: index(4), expected: .value(99)),
            TailCallCase("index 0xffffffff", maxEntries: 4, slots: [1: returns(7)], main: index(0xffff_ffff), expected: .value(99)),
            TailCallCase("the index is r3's low 32 bits", maxEntries: 4, slots: [1: returns(7)], main: index(0x1_0000_0001),
                         expected: .value(7)),
            TailCallCase("the last slot", maxEntries: 4, slots: [3: returns(9)], main: index(3), expected: .value(9)),
            TailCallCase("a constant index out of range", maxEntries: 4, slots: [1: returns(7)], main: caller(slot: 4),
                         expected: .value(99)),
            TailCallCase("from a subprogram, empty slot", main: fromSubprogram, expected: .value(5 + 1 + 10_000)),
            TailCallCase("from a subprogram: r0 to its caller, r6-r9 kept", slots: [1: clobbering], main: fromSubprogram,
                         expected: .value(17 + 10_000)),
            TailCallCase("from a subprogram with frames, empty slot", main: fromSubprogramWithFrames, expected: .value(3 + 40)),
            TailCallCase("from a subprogram with frames: the caller's frame kept", slots: [1: clobbering],
                         main: fromSubprogramWithFrames, expected: .value(17 + 40)),
            TailCallCase("programs of different stack sizes", slots: [1: bigStack, 2: oneFrame, 3: returns(77)], main: noStack,
                         expected: .value(77, output: Array(repeating: 0, count: 8) + [0x11, 0, 0, 0, 0x33, 0, 0, 0])),
            TailCallCase("the last of different stack sizes empty", slots: [1: bigStack, 2: oneFrame], main: noStack,
                         expected: .value(1000)),
            TailCallCase("r2 is not a program array", main: notAnArray, expected: .notAProgramArray(pc: 3, value: 0x1234)),
            TailCallCase("an error in the target names its instruction", slots: [0: faulty], main: caller(slot: 0),
                         expected: .outOfBounds(pc: 2, address: 16)),
            TailCallCase("an error in a target called from a subprogram", slots: [1: faulty], main: fromSubprogram,
                         expected: .outOfBounds(pc: 2, address: 16)),
            TailCallCase("the budget is the run's", slots: [0: spin], main: spin, instructionLimit: 200_000, expected: .value(1)),
        ]
        return cases
    }()
}
