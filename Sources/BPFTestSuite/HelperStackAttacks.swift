import BPFISA

/// XDP programs that hand helpers memory arguments outside the BPF stack
/// but next to it: at and above r10 (where a JIT keeps saved registers and
/// return addresses) and far below the 4 KiB of BPF frames (the rest of the
/// native stack). The interpreter, whose stack is exactly the BPF frames,
/// refuses every one in the helper; a JIT must end each the same way.
///
/// Unverified runs exercise the helpers' own checks; the verifier proves
/// none of these arguments, so verified runs must end the same way.
public enum HelperStackAttacks {
    /// `bpf_xdp_load_bytes`, `bpf_xdp_store_bytes`, `bpf_map_update_elem`.
    public static let loadBytes: Int32 = 189, storeBytes: Int32 = 190, mapUpdate: Int32 = 2

    public struct Attack: Sendable, CustomStringConvertible {
        public let name: String
        public let instructions: [Instruction]
        /// Whether it needs a hash map (key and value 8 bytes) as map 0.
        public let usesMap: Bool
        public var description: String { name }

        public init(name: String, instructions: [Instruction], usesMap: Bool) {
            self.name = name
            self.instructions = instructions
            self.usesMap = usesMap
        }
    }

    /// Offsets from r10: every 8 bytes of the 96 above it, and below the
    /// eight 512-byte frames (just below, and 16 KiB below).
    public static let offsets: [Int32] = Array(stride(from: 0, through: 88, by: 8)) + [-4_104, -16_384, -4]

    /// Every attack: a copy into the packet from `r10 + offset` (a read of
    /// the stack around the frames), a copy out of the packet to it (a
    /// write), and a map update whose key lies there.
    public static var all: [Attack] {
        offsets.flatMap { offset in
            [copy(storeBytes, offset: offset, name: "store_bytes from r10\(signed(offset))"),
             copy(loadBytes, offset: offset, name: "load_bytes to r10\(signed(offset))"),
             update(keyOffset: offset)]
        }
    }

    static func signed(_ value: Int32) -> String { value < 0 ? "\(value)" : "+\(value)" }

    /// `helper(ctx, 0, r10 + offset, 8)`; r0 = what the helper returned.
    public static func copy(_ helper: Int32, offset: Int32, name: String) -> Attack {
        Attack(name: name, instructions: [
            .alu(.w64, .mov, dst: .r3, .register(.r10)),
            .alu(.w64, .add, dst: .r3, .immediate(offset)),
            .alu(.w64, .mov, dst: .r2, .immediate(0)),
            .alu(.w64, .mov, dst: .r4, .immediate(8)),
            .call(.helper(helper)),
            .exit,
        ], usesMap: false)
    }

    /// `bpf_map_update_elem(map 0, r10 + offset, r10 - 8, 0)`.
    public static func update(keyOffset: Int32) -> Attack {
        Attack(name: "map update with key at r10\(signed(keyOffset))", instructions: [
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 7),
            .loadImmediate64(dst: .r1, .mapByIndex(0)), .immediate64Tail,
            .alu(.w64, .mov, dst: .r2, .register(.r10)),
            .alu(.w64, .add, dst: .r2, .immediate(keyOffset)),
            .alu(.w64, .mov, dst: .r3, .register(.r10)),
            .alu(.w64, .add, dst: .r3, .immediate(-8)),
            .alu(.w64, .mov, dst: .r4, .immediate(0)),
            .call(.helper(mapUpdate)),
            .exit,
        ], usesMap: true)
    }
}
