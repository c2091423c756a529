import BPFAssembler
import BPFISA

/// Why a conformance `.data` file could not be read, or its program not built.
///
/// `line` is a line number in the file (1-based) when the problem has one, so
/// that an assembly error inside the `-- asm` section names the file's line,
/// not the section's.
public struct ConformanceFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's name (or path) as given.
    public var file: String
    public var line: Int?
    public var reason: Reason

    public init(file: String, line: Int?, reason: Reason) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// A `-- name` line names no known section.
        case unknownSection(String)
        /// A section appears twice.
        case duplicateSection(String)
        /// Text before the first section that is not a `#` comment.
        case textOutsideSection(String)
        /// A token of `-- raw` or `-- mem` is not hexadecimal of the right size.
        case badHex(section: String, token: String)
        /// The `-- result` section is not one number (hexadecimal with 0x, else decimal).
        case badResult(String)
        /// The file has both `-- result` and `-- error`.
        case conflictingExpectations
        /// The file could not be read.
        case unreadable(String)
        /// Neither `-- asm` nor `-- raw`.
        case noProgram
        /// The `-- asm` section does not assemble (`line` is the file's line).
        case assembly(AssemblyError)
        /// The program's bytes do not decode.
        case decoding(ISAError)
        /// Both `-- asm` and `-- raw` are present and give different bytes.
        case asmDisagreesWithRaw(slot: Int)

        public var description: String {
            switch self {
            case .unknownSection(let s): "unknown section '\(s)' (known: asm, raw, mem, result, error, c, no register offset)"
            case .duplicateSection(let s): "section '-- \(s)' appears twice"
            case .textOutsideSection(let t): "'\(t)' is outside any section (only # comments may precede the first '-- ' line)"
            case .badHex(let section, let token): "'\(token)' in '-- \(section)' is not \(section == "raw" ? "a hex byte or a 0x 64-bit word" : "a hex byte")"
            case .badResult(let t): "'\(t)' is not a result (0x hexadecimal, or decimal)"
            case .conflictingExpectations: "the file has both '-- result' and '-- error'"
            case .unreadable(let why): "cannot read the file: \(why)"
            case .noProgram: "the file has neither '-- asm' nor '-- raw'"
            case .assembly(let error): "\(error.reason) in '\(error.text)'"
            case .decoding(let error): "\(error)"
            case .asmDisagreesWithRaw(let slot): "'-- asm' and '-- raw' differ at slot \(slot)"
            }
        }
    }

    public var description: String {
        if let line { return "\(file):\(line): \(reason)" }
        return "\(file): \(reason)"
    }
}
