import BPFHelpers
import BPFInterpreter
import BPFJITX86_64
import BPFLoader
import BPFISA
import BPFKit
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// `bpf_tail_call` with the kernel's semantics, on every engine.
@Suite struct SemanticsTests {
    static let engineNames = engines.map(\.name)
    func engine(_ name: String) -> any ExecutionEngine { engines.first { $0.name == name }! }

    @Test(arguments: engineNames)
    func leafTailCall(_ name: String) throws {
        let f = try Fixture(engine(name))
        let main = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 99); Instruction.exit }.program("main")
        let prepared = try f.prepare(main)
        #expect(try f.run(prepared).0 == 99, "empty slot: falls through")
        try f.set(1, returns(7))
        #expect(try f.run(prepared).0 == 7)
    }

    /// Stage k marks byte k of the input and tail-calls slot k + 1; the last returns 100 + length.
    @Test(arguments: engineNames, [1, 2, 3, 4])
    func chains(_ name: String, length: Int) throws {
        let f = try Fixture(engine(name))
        func stage(_ k: Int) -> Program {
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
        for k in 1...length { try f.set(k, stage(k)) }
        let (r0, out) = try f.run(stage(0))
        #expect(r0 == UInt64(100 + length))
        #expect(Array(out[0...length]) == (0...length).map { UInt8($0 + 1) })
        #expect(out[length + 1] == 0)
    }

    /// A program that counts its runs in the input and tail-calls itself: it
    /// runs once plus 33 times; the 34th tail call falls through.
    @Test(arguments: engineNames, [false, true])
    func limitReached(_ name: String, indirect: Bool) throws {
        let f = try Fixture(engine(name))
        let counter = Code {
            Instruction.ldw(.r6, .r1, 0)
            Instruction.add(.r6, 1)
            Instruction.stw(.r1, 0, .r6)
            if indirect {
                Instruction.ldw(.r7, .r1, 4)                // index 0 from the input
                Code.Item.tailCall(indexIn: .r7)
            } else {
                Code.Item.tailCall(index: 0)
            }
            Instruction.ldw(.r0, .r1, 0)
            Instruction.exit
        }.program("counter")
        try f.set(0, counter)
        let prepared = try f.prepare(counter)
        for _ in 0..<3 {   // the count is per run
            let (r0, out) = try f.run(prepared)
            #expect(r0 == UInt64(TailCalls.maxCount + 1))
            #expect(le32(out, 0) == UInt32(TailCalls.maxCount + 1))
        }
    }

    /// Empty slots do not count: 40 tail calls to an empty slot, then the
    /// chain of 33 still runs in full.
    @Test(arguments: engineNames)
    func emptySlotsDoNotCount(_ name: String) throws {
        let f = try Fixture(engine(name))
        let counter = Code {
            Instruction.ldw(.r6, .r1, 0)
            Instruction.add(.r6, 1)
            Instruction.stw(.r1, 0, .r6)
            Code.Item.tailCall(index: 0)
            Instruction.ldw(.r0, .r1, 0)
            Instruction.exit
        }.program("counter")
        try f.set(0, counter)
        let main = Code {
            for _ in 0..<40 { Code.Item.tailCall(index: 5) }
            Code.Item.tailCall(index: 0)
            Instruction.mov(.r0, 1)
            Instruction.exit
        }.program("main")
        let (r0, _) = try f.run(main)
        #expect(r0 == UInt64(TailCalls.maxCount), "counter ran 33 times: 40 empty-slot calls counted nothing")
    }

    /// The count is one per run, shared by every frame: a program that calls
    /// a subprogram that tail-calls the program again runs 34 times, not 33
    /// per frame (the kernel's "tail call hierarchy" fix).
    @Test(arguments: engineNames)
    func countPreservedAcrossLocalCalls(_ name: String) throws {
        let f = try Fixture(engine(name))
        let counter = Code {
            Instruction.ldw(.r6, .r1, 0)
            Instruction.add(.r6, 1)
            Instruction.stw(.r1, 0, .r6)
            Instruction.mov(.r8, .r1)                       // r1–r5 do not survive a local call
            Code.Item.call("sub")
            Instruction.ldw(.r0, .r8, 0)
            Instruction.exit
            Code.Item.label("sub")
            Code.Item.tailCall(index: 0)
            Instruction.mov(.r0, 0)
            Instruction.exit
        }.program("counter")
        try f.set(0, counter)
        let (r0, out) = try f.run(counter)
        #expect(r0 == UInt64(TailCalls.maxCount + 1))
        #expect(le32(out, 0) == UInt32(TailCalls.maxCount + 1))
    }

    /// A failed tail call leaves r0–r5 as they were.
    @Test(arguments: engineNames)
    func emptySlotFallsThroughWithRegistersKept(_ name: String) throws {
        let f = try Fixture(engine(name))
        let main = Code {
            Instruction.mov(.r0, 42)
            Instruction.mov(.r4, 5)
            Instruction.mov(.r5, 6)
            Code.Item.tailCall(index: 3)
            Instruction.add(.r0, .r3)
            Instruction.add(.r0, .r4)
            Instruction.add(.r0, .r5)
            Instruction.exit
        }.program("main")
        #expect(try f.run(main).0 == 42 + 3 + 5 + 6)
        let indirect = Code {
            Instruction.mov(.r0, 42)
            Instruction.mov(.r6, 3)
            Code.Item.tailCall(indexIn: .r6)
            Instruction.add(.r0, .r3)
            Instruction.exit
        }.program("indirect")
        #expect(try f.run(indirect).0 == 45)
    }

    /// Out of range: the index is compared as a u32 with max_entries.
    @Test(arguments: engineNames)
    func indexOutOfRange(_ name: String) throws {
        let f = try Fixture(engine(name), maxEntries: [4])
        try f.set(1, returns(7))
        try f.set(3, returns(9))
        func main(_ index: UInt64) -> Program {
            Code {
                Instruction.loadImmediate64(dst: .r2, .mapByIndex(0))
                Instruction.loadImmediate64(dst: .r3, .value(index))
                Instruction.tailCallHelper
                Instruction.mov(.r0, 99)
                Instruction.exit
            }.program("main")
        }
        #expect(try f.run(main(4)).0 == 99)
        #expect(try f.run(main(0xffff_ffff)).0 == 99)
        #expect(try f.run(main(0x1_0000_0001)).0 == 7, "only the low 32 bits are the index")
        #expect(try f.run(main(3)).0 == 9)
        let constant = Code { Code.Item.tailCall(index: 4); Instruction.mov(.r0, 99); Instruction.exit }.program("c")
        #expect(try f.run(constant).0 == 99)
    }

    /// A tail call from a subprogram replaces the subprogram's frame: the
    /// target's r0 goes to the subprogram's caller, whose r6–r9 survive.
    @Test(arguments: engineNames)
    func tailCallFromSubprogram(_ name: String) throws {
        let f = try Fixture(engine(name))
        let main = TailCallCases.fromSubprogram
        let prepared = try f.prepare(main)
        #expect(try f.run(prepared).0 == 5 + 1 + 10_000, "empty slot: the subprogram goes on")
        // The target clobbers r6–r9 and uses its stack.
        let target = TailCallCases.clobbering
        try f.set(1, target)
        #expect(try f.run(prepared).0 == 17 + 10_000)
    }

    @Test(arguments: engineNames)
    func entryChangedBetweenRuns(_ name: String) throws {
        let f = try Fixture(engine(name))
        let main = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 99); Instruction.exit }.program("main")
        let indirect = Code {
            Instruction.mov(.r6, 1)
            Code.Item.tailCall(indexIn: .r6)
            Instruction.mov(.r0, 99)
            Instruction.exit
        }.program("indirect")
        let direct = try f.prepare(main), lookedUp = try f.prepare(indirect)
        let a = try f.target(returns(7, "a")), b = try f.target(returns(8, "b"))
        for (entry, expected) in [(a, 7), (b, 8), (nil, 99), (a, 7), (nil, 99), (b, 8)] as [(TailCallTarget?, UInt64)] {
            if let entry { try f.array.set(entry, at: 1) } else { try f.array.clear(at: 1) }
            #expect(try f.run(direct).0 == expected)
            #expect(try f.run(lookedUp).0 == expected)
        }
    }

    /// Programs of different stack sizes tail-call each other; each starts on a fresh, zeroed stack.
    @Test(arguments: engineNames)
    func differentStackSizes(_ name: String) throws {
        let f = try Fixture(engine(name))
        // No stack at all -> 8 frames (local calls) -> one frame -> no stack.
        let small = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 99); Instruction.exit }.program("nostack")
        let big = Code {
            Instruction.load(.double, dst: .r6, src: .r10, offset: -8)     // 0: fresh stack
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
            Instruction.load(.double, dst: .r0, src: .r10, offset: -8)      // the callee's frame: 0
            Instruction.mov(.r2, 0x22)
            Instruction.store(.double, dst: .r10, offset: -16, src: .r2)
            Instruction.load(.double, dst: .r2, src: .r10, offset: 504)     // the caller's frame (r10 + 512 - 8): 0x11
            Instruction.add(.r0, .r2)
            Instruction.exit
        }.program("big")
        let one = Code {
            Instruction.load(.double, dst: .r0, src: .r10, offset: -8)      // fresh again: 0
            Instruction.load(.double, dst: .r6, src: .r10, offset: -16)
            Instruction.add(.r0, .r6)
            Instruction.mov(.r6, 0x33)
            Instruction.store(.double, dst: .r10, offset: -24, src: .r6)
            Instruction.stw(.r1, 12, .r6)
            Code.Item.tailCall(index: 3)
            Instruction.add(.r0, 1000)
            Instruction.exit
        }.program("oneframe")
        try f.set(1, big)
        try f.set(2, one)
        try f.set(3, returns(77, "last"))
        let (r0, out) = try f.run(small)
        #expect(r0 == 77)
        #expect(le32(out, 8) == 0x11 && le32(out, 12) == 0x33)
        try f.array.clear(at: 3)
        #expect(try f.run(small).0 == 1000)
    }

    /// r2 must be a program array the program loads; both engines stop alike.
    @Test(arguments: engineNames)
    func notAProgramArray(_ name: String) throws {
        let f = try Fixture(engine(name))
        let main = Program([.loadImmediate64(dst: .r2, .value(0x1234)), .mov(.r3, 0), .tailCallHelper, .exit], name: "bad")
        #expect(throws: ExecutionError.notAProgramArray(pc: 3, value: 0x1234)) { try f.run(main) }
        // A program array the program does not load is refused too.
        let other = try Fixture(engine(name))
        let viaRegister = Program([.loadImmediate64(dst: .r2, .value(other.array.handle)), .mov(.r3, 0), .tailCallHelper,
                                   .mov(.r0, 0), .exit], name: "other")
        #expect(throws: ExecutionError.notAProgramArray(pc: 3, value: other.array.handle)) { try f.run(viaRegister) }
    }

    /// Errors inside a tail-called program stop the whole run and name the
    /// target's instruction, from the entry function and from a subprogram;
    /// the caller runs normally afterwards.
    @Test(arguments: engineNames)
    func errorsInTargets(_ name: String) throws {
        let f = try Fixture(engine(name))
        let faulty = Program([.mov(.r0, 1), .mov(.r6, 0), .load(.double, dst: .r0, src: .r6, offset: 16), .exit], name: "faulty")
        let kfunc = Program([.mov(.r0, 1), .call(.kfunc(btfID: 77)), .exit], name: "kfunc")
        let main = Code {
            Instruction.ldw(.r6, .r1, 0)
            Code.Item.branch(.eq, .r6, 1, "fromSub")
            Code.Item.tailCall(indexIn: .r6)
            Instruction.mov(.r0, 99)
            Instruction.exit
            Code.Item.label("fromSub")
            Code.Item.call("sub")
            Instruction.add(.r0, 1)
            Instruction.exit
            Code.Item.label("sub")
            Code.Item.tailCall(index: 2)
            Instruction.mov(.r0, 50)
            Instruction.exit
        }.program("main")
        try f.set(0, faulty)
        try f.array.set(try f.unlinkedTarget(kfunc), at: 2)
        let prepared = try f.prepare(main)
        #expect(throws: ExecutionError.outOfBounds(pc: 2, address: 16, size: 8, write: false)) {
            try f.run(prepared, input: [0, 0, 0, 0] + Array(repeating: 0, count: 60))
        }
        #expect(throws: ExecutionError.unsupported(pc: 1, what: "a kernel function call (kfunc, BTF id 77)")) {
            try f.run(prepared, input: [1, 0, 0, 0] + Array(repeating: 0, count: 60))
        }
        #expect(try f.run(prepared, input: [5, 0, 0, 0] + Array(repeating: 0, count: 60)).0 == 99)
        try f.array.clear(at: 2)
        #expect(try f.run(prepared, input: [1, 0, 0, 0] + Array(repeating: 0, count: 60)).0 == 51)
    }

    /// The instruction budget is one per run: a chain cannot reset it.
    @Test(arguments: engineNames)
    func budgetIsShared(_ name: String) throws {
        let f = try Fixture(engine(name))
        let spin = Code {
            Instruction.mov(.r6, 0)
            Code.Item.label("loop")
            Instruction.add(.r6, 1)
            Code.Item.branch(.lt, .r6, 2000, "loop")
            Code.Item.tailCall(index: 0)
            Instruction.mov(.r0, 1)
            Instruction.exit
        }.program("spin")
        try f.set(0, spin)
        // 34 runs of about 4,000 instructions each: within 200,000, not within 50,000.
        #expect(try f.run(try f.prepare(spin, limit: 200_000)).0 == 1)
        #expect(throws: ExecutionError.self) { try f.run(try f.prepare(spin, limit: 50_000)) }
    }

    /// Program arrays hold one program type; entries must be prepared for every caller's engine.
    @Test func entriesAreChecked() throws {
        let f = try Fixture(Interpreter())
        let main = Code { Code.Item.tailCall(index: 0); Instruction.mov(.r0, 1); Instruction.exit }.program("main")
        let caller = try f.prepare(main)                   // a mem caller on the interpreter
        let xdpTarget = try TailCallTargets.make(try LinkedProgram(program: returns(2), type: ProgramTypes.xdp, maps: f.arrays),
                                                 engine: Interpreter())
        #expect(throws: MapError.self) { try f.array.set(xdpTarget, at: 0) }
        let xdpCaller = try LinkedProgram(program: main, type: ProgramTypes.xdp, maps: f.arrays)
        #expect(throws: EngineError.self) {
            try Interpreter().prepare(xdpCaller.program, configuration: xdpCaller.engineConfiguration())
        }
        #if arch(x86_64)
        let jitOnly = try TailCallTargets.make(try f.link(returns(3)), engine: X86_64JIT())
        #expect(throws: MapError.self) { try f.array.set(jitOnly, at: 0) }
        let both = jitOnly.adding(try f.target(returns(3)).preparations.values.first!)
        try f.array.set(both, at: 0)
        #expect(try f.run(caller).0 == 3)
        let linked = try f.link(main)
        let jitCaller = try X86_64JIT().prepare(linked.program, configuration: linked.engineConfiguration())
        #expect(try f.run(jitCaller).0 == 3)
        // Interpreter-only entries cannot be set while a JIT caller is attached, and keep new JIT callers out.
        #expect(throws: MapError.self) { try f.set(0, returns(4)) }
        withExtendedLifetime(jitCaller) {}
        #endif
        withExtendedLifetime(caller) {}
    }
}
