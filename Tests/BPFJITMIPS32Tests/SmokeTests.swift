import BPFISA
import BPFJITMIPS32
import BPFRuntime
import Testing

@Suite struct SmokeTests {
    @Test(arguments: [false, true]) func returnsAConstant(bigEndian: Bool) throws {
        let program = try MIPS32JIT(bigEndian: bigEndian).emulate(Program([.alu(.w64, .mov, dst: .r0, .immediate(-7)), .exit]))
        #expect(try program.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == UInt64(bitPattern: -7))
    }
}
