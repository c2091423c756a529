import BPFRuntime

/// Where the MIPS O32 ABI puts one integer argument.
public enum O32Location: Hashable, Sendable {
    /// One argument register, a0–a3 (n = 0–3).
    case register(Int)
    /// Two argument registers aN, aN+1 (N = 0 or 2) holding a 64-bit value
    /// in memory order: the low word first on a little-endian target, the
    /// high word first on a big-endian one.
    case pair(Int)
    /// A slot `bytes` (4 or 8) long at `offset` above the stack pointer at
    /// the call, in memory order; offsets start at 16, after the home area
    /// the caller reserves for a0–a3.
    case stack(offset: Int, bytes: Int)
}

/// The O32 argument rules for the integer kinds BPF helpers take (MIPS
/// "System V ABI, MIPS RISC Processor Supplement", "Function Calling
/// Sequence"): the arguments are laid out as the fields of a structure
/// whose first 16 bytes travel in a0–a3 and the rest on the stack at the
/// same offsets from sp.
///
/// - a 32-bit value (a 32-bit scalar, a pointer, a size: one word on
///   MIPS32) takes the next word;
/// - a 64-bit value (a 64-bit scalar, a map handle) takes the next 8-byte
///   aligned doubleword, so `foo(int a, long long b)` leaves a1 unused and
///   passes b in a2:a3.
///
/// Words below offset 16 are registers, so the result matches AAPCS
/// (`AAPCS.locations(for:)`) with every stack offset 16 higher and pairs in
/// memory order; the emulator reads helper arguments of an O32 row with
/// the AAPCS rules on that basis (`ArchitectureTableTests` checks the two
/// agree for every helper prototype).
public enum O32 {
    /// Whether a value of this kind travels as one 32-bit word.
    public static func isWord(_ kind: ValueKind) -> Bool { AAPCS.isWord(kind) }

    /// The location of each argument, in order.
    public static func locations(for arguments: [ValueKind]) -> [O32Location] {
        var offset = 0
        var result: [O32Location] = []
        for kind in arguments {
            let bytes = isWord(kind) ? 4 : 8
            offset = (offset + bytes - 1) & ~(bytes - 1)
            if offset < 16 {
                result.append(bytes == 4 ? .register(offset / 4) : .pair(offset / 4))
            } else {
                result.append(.stack(offset: offset, bytes: bytes))
            }
            offset += bytes
        }
        return result
    }

    /// Bytes of the outgoing argument area the arguments need, home area
    /// included (at least 16, a multiple of 8).
    public static func areaBytes(for arguments: [ValueKind]) -> Int {
        var end = 16
        for case .stack(let offset, let bytes) in locations(for: arguments) { end = max(end, offset + bytes) }
        return (end + 7) & ~7
    }
}
