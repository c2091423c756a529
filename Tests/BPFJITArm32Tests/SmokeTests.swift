import BPFISA
import BPFJITArm32
import BPFRuntime
import Testing

@Suite struct SmokeTests {
    @Test func returnsAConstant() throws {
        let program = try Arm32JIT().emulate(Program([.alu(.w64, .mov, dst: .r0, .immediate(-7)), .exit]))
        #expect(try program.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == UInt64(bitPattern: -7))
    }
}
