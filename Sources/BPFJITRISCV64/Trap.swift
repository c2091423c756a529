import BPFExecMemory

extension TrapPattern {
    /// RISC-V `ebreak` (0x00100073) stored little-endian: what program-pack
    /// slack holds for riscv64 images, and what the emulator fills
    /// trampoline pages with.
    public static let riscv64 = try! TrapPattern(bytes: [0x73, 0x00, 0x10, 0x00], name: "ebreak")
    /// `c.ebreak` (0x9002), for compressed code: 2-byte aligned, so a stray
    /// jump to any instruction boundary of RV64GC code lands on a trap.
    public static let riscv64Compressed = try! TrapPattern(bytes: [0x02, 0x90], name: "c.ebreak")

    /// The trap for code with or without the C extension.
    public static func riscv64(compressed: Bool) -> TrapPattern { compressed ? .riscv64Compressed : .riscv64 }
}
