import BPFBackendTestKit
import BPFEmulator
import BPFJITMIPS32
import BPFRuntime
import Testing

/// The MIPS32 rows of the shared backend test kit: mips32le, and mips32be
/// judged against the big-endian interpreter.
enum Rows {
    static func mips32(bigEndian: Bool) -> BackendRow {
        BackendRow(name: bigEndian ? "mips32be" : "mips32le", configurations: [("plain", MIPS32JIT(bigEndian: bigEndian))],
                   architecture: bigEndian ? .mips32be : .mips32le, byteOrder: bigEndian ? .big : .little,
                   imageCounts: { prepared in
                       (prepared as? MIPS32EmulatedProgram).map { ($0.machine.liveImageCount, $0.machine.mappedImageCounts.max() ?? 0) }
                   })
    }
}

/// Every check of the kit (`BackendKit.checks`) on MIPS32, both byte orders, under the emulator.
@Suite struct BackendKitTests {
    @Test(arguments: BackendKit.checks(Rows.mips32(bigEndian: false)) + BackendKit.checks(Rows.mips32(bigEndian: true)))
    func kit(_ check: BackendCheck) throws {
        try check.expectPasses()
    }
}
