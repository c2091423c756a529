#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which instruction-selection patterns over sequences of BPF instructions
/// a backend may use (x86-64: `X86Peepholes`). All are on by default; the
/// command line reads `BPFKIT_X86_PEEPHOLES` once (`environment`), so that
/// what each gains can be measured with the same binary.
public struct JITInstructionSelection: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A branch over register moves as compare and `cmovcc`.
    public static let selects = JITInstructionSelection(rawValue: 1 << 0)
    /// `mov` then `add`/`lsh` as one `lea`.
    public static let addresses = JITInstructionSelection(rawValue: 1 << 1)
    /// A load whose register is read once, by the next ALU instruction, as
    /// that instruction's memory operand (`add r, [m]`, `imul r, [m]`).
    public static let loads = JITInstructionSelection(rawValue: 1 << 2)
    /// Loop heads (targets of backward jumps) aligned to 16 bytes. Not in
    /// `all`: measured, it changed no run time beyond the noise and costs
    /// up to 15 bytes a loop (docs/PERFORMANCE.md).
    public static let loopAlignment = JITInstructionSelection(rawValue: 1 << 3)
    /// Stack slots that only their own loads and stores reach kept in host
    /// registers (x86-64: `X86SlotPromotion`). Not in `all`: measured, the
    /// one suite program it changes (tokenizer) ran no faster with the same
    /// code layout, and its extra save moved the loop by two bytes, which cost
    /// 10–15% there (docs/PERFORMANCE.md).
    public static let slots = JITInstructionSelection(rawValue: 1 << 4)

    /// Every pattern that is on by default.
    public static let all: JITInstructionSelection = [.selects, .addresses, .loads]
    public static let none: JITInstructionSelection = []

    /// The patterns a `BPFKIT_X86_PEEPHOLES` value asks for: `0` none (the
    /// plain one-instruction-at-a-time lowering); a comma-separated list of
    /// `select`, `lea`, `fold` (loads as operands), `slots` (stack slots in
    /// registers, off by default) and `align` (loop heads,
    /// off by default) those only; unset or anything else, `all`.
    public init(environmentValue value: String?) {
        guard let value else { self = .all; return }
        if value == "0" { self = .none; return }
        var chosen = JITInstructionSelection.none
        for name in value.split(separator: ",") {
            switch name {
            case "select": chosen.insert(.selects)
            case "lea": chosen.insert(.addresses)
            case "fold": chosen.insert(.loads)
            case "align": chosen.insert(.loopAlignment)
            case "slots": chosen.insert(.slots)
            default: self = .all; return
            }
        }
        self = chosen.isEmpty ? .all : chosen
    }

    /// What the process's `BPFKIT_X86_PEEPHOLES` asks for, read once.
    public static let environment = JITInstructionSelection(
        environmentValue: getenv("BPFKIT_X86_PEEPHOLES").map { String(cString: $0) })
}
