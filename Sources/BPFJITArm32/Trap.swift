import BPFExecMemory

extension TrapPattern {
    /// A32 `udf #0` (Arm ARM A8.8.247, the permanently undefined encoding
    /// 0xe7f000f0) stored little-endian: what program-pack slack holds for
    /// arm32 images, and what the emulator fills trampoline pages with.
    public static let arm32 = try! TrapPattern(bytes: [0xf0, 0x00, 0xf0, 0xe7], name: "udf #0")
}
