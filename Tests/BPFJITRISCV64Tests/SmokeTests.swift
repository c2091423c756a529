import BPFISA
import BPFJITRISCV64
import BPFRuntime
import Testing

@Suite struct SmokeTests {
    @Test(arguments: [false, true]) func returnsAConstant(compressed: Bool) throws {
        let program = try RV64JIT(options: RV64Options(compressed: compressed))
            .emulate(Program([.alu(.w64, .mov, dst: .r0, .immediate(-7)), .exit]))
        #expect(try program.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == UInt64(bitPattern: -7))
    }
}
