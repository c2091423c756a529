import BPFBackendTestKit
import BPFEmulator
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFRuntime
import Testing

/// Small programs through the whole path: compile, load into the emulator, run.
@Suite struct SmokeTests {
    @Test func returnsAConstant() throws {
        let program = try emulated([.mov64(.r0, 42), .exit])
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == 42)
        #expect(!program.usesRunContext)
    }

    @Test func arithmeticMatchesTheInterpreter() {
        let programs: [[Instruction]] = [
            [.mov64(.r0, 7), .alu(.w64, .mul, dst: .r0, .immediate(6)), .exit],
            [.ld64(.r0, 0x1122_3344_5566_7788), .byteSwap(.toBigEndian, dst: .r0, bits: 16), .exit],
            [.mov64(.r0, -5), .alu(.w32, .sdiv, dst: .r0, .immediate(2)), .exit],
            [.mov64(.r0, 100), .mov64(.r1, 0), .alu(.w64, .mod, dst: .r0, .register(.r1)), .exit],
            [.ld64(.r0, 0x8000_0000_0000_0000), .mov64(.r1, -1), .alu(.w64, .sdiv, dst: .r0, .register(.r1)), .exit],
            [.mov64(.r0, 1), .mov64(.r1, 65), .alu(.w64, .lsh, dst: .r0, .register(.r1)), .exit],
            [.load(.double, dst: .r0, src: .r1, offset: 0), .exit],
        ]
        for instructions in programs {
            let both = bothEngines(instructions, memory: [1, 2, 3, 4, 5, 6, 7, 8])
            #expect(both.jit == both.interpreter, "\(instructions): jit \(both.jit), interpreter \(both.interpreter)")
        }
    }

    @Test func loopsAndTheGuard() {
        // r0 = sum 1..100
        let loop: [Instruction] = [
            .mov64(.r0, 0), .mov64(.r1, 100),
            .alu(.w64, .add, dst: .r0, .register(.r1)), .alu(.w64, .sub, dst: .r1, .immediate(1)),
            .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3), .exit,
        ]
        let both = bothEngines(loop)
        #expect(both.jit == .value(5050) && both.jit == both.interpreter)
        let runaway = bothEngines([.jump(offset: -1), .exit], limit: 1000)
        #expect(runaway.jit == .failure(.instructionLimit(pc: 0, limit: 1000)), "\(runaway.jit)")
        #expect(runaway.jit == runaway.interpreter)
    }
}
