import BPFEmulator
import BPFExecMemory
import BPFJITRISCV64
import Testing

/// Program-pack slack for riscv64 images holds `ebreak` (`c.ebreak` for
/// compressed code), the emulator row's trap, in phase with instructions.
@Suite struct TrapTests {
    @Test(arguments: [false, true]) func packSlackHoldsTheRISCVTrap(compressed: Bool) throws {
        let trap = TrapPattern.riscv64(compressed: compressed)
        #expect(TrapPattern.riscv64.bytes == EmulatedArchitecture.riscv64.trap)
        let pack = ProgramPack(trap: trap, configuration: .init(placement: .lowest, name: "bpfkit-riscv64-test-\(UInt32.random(in: 0...UInt32.max))"))
        let slot: PackSlot = try pack.allocate(size: 8, alignment: 4)
        try pack.copy([1, 2, 3, 4, 5, 6, 7, 8], into: slot)
        let unit = try pack.bytes(at: slot.address, count: 64)
        #expect(Array(unit[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Array(unit[8...]) == Array(repeating: trap.bytes, count: 56 / trap.bytes.count).flatMap { $0 })
        pack.free(slot)
    }
}
