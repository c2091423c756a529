import BPFExecMemory
import BPFJIT
import BPFJITArm32
import Testing

/// The program pack's slack holds the arm32 trap pattern.
@Suite struct PackTests {
    @Test func packSlackHoldsTheArm32Trap() throws {
        #expect(TrapPattern.arm32.bytes == Arm32JIT.architecture.trap)
        let pack = ProgramPack(trap: .arm32, configuration: .init(placement: .lowest, name: "bpfkit-arm32-test-\(UInt32.random(in: 0...UInt32.max))"))
        let slot: PackSlot = try pack.allocate(size: 8, alignment: 4)
        try pack.copy([1, 2, 3, 4, 5, 6, 7, 8], into: slot)
        let unit = try pack.bytes(at: slot.address, count: 64)
        #expect(Array(unit[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Array(unit[8...]) == Array(repeating: TrapPattern.arm32.bytes, count: 14).flatMap { $0 })
        pack.free(slot)
    }
}
