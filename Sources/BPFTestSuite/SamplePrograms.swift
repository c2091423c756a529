import BPFISA

/// Whole programs with a Swift reference, shared by engine tests and the
/// benchmarks (the interpreter's speed goal is FNV-1a over 1,500 bytes).
public enum SamplePrograms {
    static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// 64-bit FNV-1a over the input (r1 = bytes, r2 = length), laid out the
    /// way clang -O2 compiles the C loop: five instructions per byte.
    ///
    ///     0:  r0 = 0xcbf29ce484222325 ll
    ///     2:  if r2 == 0 goto 12
    ///     3:  r3 = 0x100000001b3 ll
    ///     5:  r4 = r1
    ///     6:  r4 += r2
    ///     7:  r5 = *(u8 *)(r1 + 0)      <- loop
    ///     8:  r0 ^= r5
    ///     9:  r0 *= r3
    ///     10: r1 += 1
    ///     11: if r1 != r4 goto 7
    ///     12: exit
    public static let fnv1a = Program([
        .loadImmediate64(dst: .r0, .value(fnvOffsetBasis)),
        .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 9),
        .loadImmediate64(dst: .r3, .value(fnvPrime)),
        .alu(.w64, .mov, dst: .r4, .register(.r1)),
        .alu(.w64, .add, dst: .r4, .register(.r2)),
        .load(.byte, dst: .r5, src: .r1, offset: 0),
        .alu(.w64, .xor, dst: .r0, .register(.r5)),
        .alu(.w64, .mul, dst: .r0, .register(.r3)),
        .alu(.w64, .add, dst: .r1, .immediate(1)),
        .branch(.w64, .ne, dst: .r1, .register(.r4), offset: -5),
        .exit,
    ], name: "fnv1a")

    /// The same hash in Swift.
    public static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(fnvOffsetBasis) { ($0 ^ UInt64($1)) &* fnvPrime }
    }
}
