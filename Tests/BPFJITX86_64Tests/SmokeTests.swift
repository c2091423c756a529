import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

@Suite struct SmokeTests {
    @Test func returnsConstant() throws {
        let program = try jit([.mov64(.r0, 42), .exit])
        #expect(try program.run(RunInput(r1: 0, regions: MemoryRegions())) == 42)
        #expect(try program.function() == 42)
        #expect(!program.usesRunContext)
    }

    @Test func loopSums() throws {
        // r0 = sum of 1...100
        let r = try run([.mov64(.r0, 0), .mov64(.r1, 100),
                         .alu(.w64, .add, dst: .r0, .register(.r1)),
                         .alu(.w64, .sub, dst: .r1, .immediate(1)),
                         .branch(.w64, .ne, dst: .r1, .immediate(0), offset: -3),
                         .exit])
        #expect(r == 5050)
    }
}
