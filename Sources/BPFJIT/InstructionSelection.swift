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

    public static let all: JITInstructionSelection = [.selects, .addresses]
    public static let none: JITInstructionSelection = []

    /// The patterns a `BPFKIT_X86_PEEPHOLES` value asks for: `0` none (the
    /// plain one-instruction-at-a-time lowering), `select` or `lea` that one
    /// only; unset or anything else, all.
    public init(environmentValue value: String?) {
        switch value {
        case "0": self = .none
        case "select": self = .selects
        case "lea": self = .addresses
        default: self = .all
        }
    }

    /// What the process's `BPFKIT_X86_PEEPHOLES` asks for, read once.
    public static let environment = JITInstructionSelection(
        environmentValue: getenv("BPFKIT_X86_PEEPHOLES").map { String(cString: $0) })
}
