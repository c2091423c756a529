import Testing
import BPFISA
import BPFAssembler
import BPFHelpers
import BPFLoader
import BPFRuntime
import BPFKit

/// The zero-copy entry: a program runs on a buffer the host keeps, in place.
@Suite struct InPlaceRunTests {
    static let engines: [EngineKind] = [.interpreter, .jit]

    /// A `mem` run sees the buffer's first `length` bytes (r1, r2) and leaves its writes in them.
    @Test(arguments: engines) func memRunsInPlace(engine: EngineKind) throws {
        let program = Program([
            .load(.byte, dst: .r0, src: .r1, offset: 0),
            .alu(.w64, .add, dst: .r0, .register(.r2)),
            .storeImmediate(.byte, dst: .r1, offset: 1, imm: 0x55),
            .exit,
        ])
        let runner = try LoadedProgram(program, engine: engine).makeInPlaceRunner(capacity: 16)
        try runner.buffer.write([7, 0, 0])
        #expect(try runner.run() == 7 + 3)
        #expect(runner.buffer.output() == [7, 0x55, 0])
        // The host changes the bytes in place; the next run sees them.
        runner.buffer.withUnsafeMutableBytes { $0[0] = 9 }
        #expect(try runner.run() == 9 + 3)
        try runner.buffer.setLength(5)
        #expect(try runner.run() == 9 + 5)
        #expect(try runner.run(times: 1000) == 9 + 5)
        #expect(throws: ProgramRunError.inputTooLarge(type: "mem", size: 17, maximum: 16)) { try runner.buffer.setLength(17) }
    }

    /// Past `length` is outside the run's memory even though the buffer is larger.
    @Test(arguments: engines) func memAccessPastLengthStillFails(engine: EngineKind) throws {
        let program = try Assembler.assemble("ldxdw %r0, [%r1+0]\nexit")
        let runner = try LoadedProgram(program, engine: engine).makeInPlaceRunner(capacity: 64)
        try runner.buffer.write([1, 2, 3, 4])
        #expect(throws: ExecutionError.self) { try runner.run() }
        #expect(throws: ExecutionError.self) { try runner.run(times: 10) }
        try runner.buffer.write([1, 0, 0, 0, 0, 0, 0, 2])
        #expect(try runner.run() == 0x0200_0000_0000_0001)
    }

    /// An XDP frame: the packet at the headroom, its pointers put back before
    /// every run (a run that moved the head does not move the next one's).
    @Test(arguments: engines) func xdpRunsInPlaceAndResetsThePacket(engine: EngineKind) throws {
        // r0 = data_end - data, then move the head forward 14 bytes.
        let program = try Assembler.assemble("""
            mov %r6, %r1
            ldxw %r2, [%r1+0]
            ldxw %r3, [%r1+4]
            mov %r7, %r3
            sub %r7, %r2
            mov %r1, %r6
            mov %r2, 14
            call 44
            mov %r0, %r7
            exit
            """)
        let linked = try LinkedProgram(program: program, type: ProgramTypes.xdp)
        let runner = try LoadedProgram(linked, engine: engine).makeInPlaceRunner()
        #expect(runner.buffer.capacity == XDPFrame.maxPacketSize)
        try runner.buffer.write(Array(0..<64))
        #expect(try runner.run() == 64)
        #expect(runner.buffer.output() == Array(14..<64))   // the head moved in place
        #expect(try runner.run() == 64)                      // and is back before the next run
        try runner.buffer.setLength(100)
        #expect(try runner.run(times: 3) == 100)
        #expect(throws: ProgramRunError.self) { try runner.buffer.setLength(13) }
    }

    /// A proven `r0 = 42` needs nothing per run; the in-place path gives the
    /// same answer as the copying one on every engine.
    @Test(arguments: engines) func constantProgram(engine: EngineKind) throws {
        let loaded = try LoadedProgram(try Assembler.assemble("mov %r0, 42\nexit"), engine: engine)
        let measured = try loaded.measureInPlace(input: [1, 2, 3], count: 100_000)
        #expect(measured.result.returnValue == 42)
        #expect(measured.runs == 100_000)
        #expect(measured.meanNanoseconds > 0)
    }

    /// Every in-place run of the interpreter starts fresh, whatever the run
    /// before it on the same runner left: registers other than r1, r2 and
    /// r10 zero, the stack zero where the program can read it. (The runner
    /// keeps its machine from run to run and lays each run's block out
    /// where the previous one was.)
    @Test func interpreterInPlaceRunsStartFresh() throws {
        let programs = [
            // The stack word the previous run wrote.
            "ldxdw %r0, [%r10-8]\nstxdw [%r10-8], %r1\nexit",
            // r3 and r6 as the previous run left them.
            "mov %r0, %r3\nor %r0, %r6\nmov %r3, %r1\nmov %r6, %r2\nexit",
            // A stack word reached through a pointer the verifier cannot place.
            "mov %r3, %r10\nldxb %r4, [%r1+0]\nand %r4, 8\nsub %r3, %r4\nldxdw %r0, [%r3-8]\nstxdw [%r3-8], %r1\nexit",
        ]
        for source in programs {
            let loaded = try LoadedProgram(try Assembler.assemble(source), engine: .interpreter)
            let runner = try loaded.makeInPlaceRunner(capacity: 8)
            for first in [UInt8(0), 8] {
                try runner.buffer.write([first, 2, 3])
                #expect(try runner.run() == 0, "\(source)")
                #expect(try runner.run() == 0, "\(source)")
                #expect(try runner.run(times: 100) == 0, "\(source)")
            }
            #expect(try loaded.measureInPlace(input: [8], count: 1000).result.returnValue == 0, "\(source)")
        }
    }

    /// The interpreter clears only the stack a program is proven to reach:
    /// what an earlier run left on the thread's stack must not show through.
    @Test func interpreterStackStartsZeroedWhereProgramsCanRead() throws {
        // Writes a pattern over its whole frame.
        var writer = ""
        for offset in stride(from: 8, through: 512, by: 8) { writer += "stdw [%r10-\(offset)], -1\n" }
        writer += "mov %r0, 0\nexit\n"
        let dirty = try LoadedProgram(try Assembler.assemble(writer), engine: .interpreter)
        // Reads a stack word it never wrote (proven inside its frame, not
        // proven initialized): must read zero.
        let reader = try LoadedProgram(try Assembler.assemble("ldxdw %r0, [%r10-8]\nexit"), engine: .interpreter)
        // Reads through a pointer the verifier cannot place (no stack depth proven).
        let wild = try LoadedProgram(try Assembler.assemble("""
            mov %r3, %r10
            ldxb %r4, [%r1+0]
            and %r4, 8
            sub %r3, %r4
            ldxdw %r0, [%r3-8]
            exit
            """), engine: .interpreter)
        for _ in 0..<3 {
            _ = try dirty.run(input: [])
            #expect(try reader.run(input: []).returnValue == 0)
            _ = try dirty.run(input: [])
            #expect(try wild.run(input: [8]).returnValue == 0)
            _ = try dirty.run(input: [])
            #expect(try wild.run(input: [0]).returnValue == 0)
        }
    }
}
