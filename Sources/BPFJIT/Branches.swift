/// A place in the code that branches can target.
///
/// Labels `0..<count` of a compilation are the program's instruction slots
/// (the first native byte of each lowered BPF instruction), `count` is the end
/// of the program body, then one label per function entry (its prologue).
/// A backend makes further labels during a pass (`JITAssembler.makeLabel`) for
/// epilogues, shared routines and out-of-line stubs; because every pass makes
/// them in the same order, a label names the same place in every pass.
public struct Label: Hashable, Sendable {
    public let id: Int32
    public init(id: Int32) { self.id = id }
}

/// One way an architecture encodes a branch displacement: its range and how
/// to write it into an emitted instruction.
///
/// x86-64 has rel8 and rel32 fields after the opcode; arm64 has imm26 (b, bl),
/// imm19 (b.cond, cbz) and imm14 (tbz) fields inside a 32-bit word, scaled by
/// 4; MIPS32 a 16-bit field scaled by 4 relative to the delay slot; RISC-V
/// B-type and J-type immediates scattered across the word. The core never
/// looks inside: it asks `canEncode` and calls `patch`.
public protocol BranchKind: Sendable {
    /// Whether a displacement (target minus the kind's anchor, in bytes) fits.
    func canEncode(_ displacement: Int) -> Bool
    /// Writes `displacement` into the branch whose field starts at `field`.
    func patch(_ code: CodeBuffer, field: Int, displacement: Int)
}

/// A branch emitted during a pass whose displacement is filled in once all
/// labels of the pass are placed.
@usableFromInline
struct Fixup<Kind: BranchKind> {
    /// Offset of the displacement field (or of the instruction word).
    @usableFromInline var field: Int32
    /// Offset the displacement is measured from (x86: end of the instruction).
    @usableFromInline var anchor: Int32
    @usableFromInline var label: Int32
    @usableFromInline var kind: Kind
    /// Index of the variable-length site that chose this kind, or -1 when the
    /// kind was not a choice (a fixed long form, or a fixed-width branch).
    @usableFromInline var site: Int32

    @usableFromInline
    init(field: Int32, anchor: Int32, label: Int32, kind: Kind, site: Int32) {
        self.field = field
        self.anchor = anchor
        self.label = label
        self.kind = kind
        self.site = site
    }
}
