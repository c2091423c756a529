import BPFRuntime

/// How a target passes a helper's arguments.
public enum HelperArgumentConvention: Hashable, Sendable {
    /// Every argument and result as a 64-bit value, in `EmulatedArchitecture.arguments`
    /// and `result` (what a C function of five `uint64_t` parameters gets).
    case uniform64
    /// By the helper's prototype under the ARM procedure call standard:
    /// see `AAPCS.locations(for:)`. Results: 32-bit kinds in r0, 64-bit in r0:r1.
    case aapcs
}

/// Where AAPCS (the base standard, integer arguments only) puts one argument.
public enum AAPCSLocation: Hashable, Sendable {
    /// One core register, r0–r3.
    case register(Int)
    /// An even/odd pair rN:rN+1 (N = 0 or 2), low word in rN.
    case pair(Int)
    /// A slot `bytes` (4 or 8) long at `offset` above the stack pointer at the call.
    case stack(offset: Int, bytes: Int)
}

/// The AAPCS argument rules for the integer kinds BPF helpers take
/// (procedure call standard for the Arm architecture, §6.5 "Parameter
/// Passing", rules C.3–C.9, core registers only):
///
/// - a 32-bit value (a 32-bit scalar, a pointer, a size: all one word on a
///   32-bit core) takes the next core register while one of r0–r3 is left,
///   else the next word of the stack;
/// - a 64-bit value (a 64-bit scalar, a map handle, which stays the host's
///   opaque 64-bit value) first rounds the next register up to an even one; it
///   takes that even/odd pair when r0:r1 or r2:r3 is left, else an 8-byte
///   aligned stack slot, and no later argument goes in a register.
///
/// So `foo(int a, int b, long long c, int d)` passes a in r0, b in r1, c in
/// r2:r3 and d at [sp]; `bar(int a, int b, int c, int d)` passes d in r3; and
/// `baz(int a, long long b)` skips r1 to put b in r2:r3.
public enum AAPCS {
    /// Whether a value of this kind travels as one 32-bit word.
    public static func isWord(_ kind: ValueKind) -> Bool {
        switch kind {
        case .scalar(let bits): bits <= 32
        case .pointer, .size, .context, .mapValueOrNull: true
        case .map, .void: false
        }
    }

    /// The location of each argument, in order.
    public static func locations(for arguments: [ValueKind]) -> [AAPCSLocation] {
        var register = 0, stack = 0
        var result: [AAPCSLocation] = []
        for kind in arguments {
            if isWord(kind) {
                if register < 4 {
                    result.append(.register(register))
                    register += 1
                } else {
                    result.append(.stack(offset: stack, bytes: 4))
                    stack += 4
                }
            } else {
                register = (register + 1) & ~1
                if register <= 2 {
                    result.append(.pair(register))
                    register += 2
                } else {
                    register = 4
                    stack = (stack + 7) & ~7
                    result.append(.stack(offset: stack, bytes: 8))
                    stack += 8
                }
            }
        }
        return result
    }

    /// Bytes of stack the arguments take (a multiple of 8).
    public static func stackBytes(for arguments: [ValueKind]) -> Int {
        var end = 0
        for case .stack(let offset, let bytes) in locations(for: arguments) { end = max(end, offset + bytes) }
        return (end + 7) & ~7
    }
}
