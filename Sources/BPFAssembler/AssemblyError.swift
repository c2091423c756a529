/// Why a line of assembly text could not be assembled.
///
/// Every error names the 1-based line number in the text handed to the
/// assembler and that line's text, so a caller that took the text out of a
/// larger file (a conformance `.data` file) can add its own line offset.
public struct AssemblyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based line number in the assembled text.
    public var line: Int
    /// The text of that line, without its line break.
    public var text: String
    public var reason: Reason

    public init(line: Int, text: String, reason: Reason) {
        self.line = line
        self.text = text
        self.reason = reason
    }

    public enum Reason: Error, Sendable, Hashable, CustomStringConvertible {
        /// The first word names no instruction.
        case unknownMnemonic(String)
        /// `lock` without a known operation after it.
        case unknownAtomicOperation(String)
        /// The mnemonic takes a different number of operands.
        case operandCount(mnemonic: String, expected: String, found: Int)
        /// An operand is empty (`mov %r0,`, `add %r0,, 1`).
        case emptyOperand(mnemonic: String)
        /// A register operand is malformed or not one of %r0–%r10.
        case badRegister(String)
        /// An operand that must be a register is something else.
        case expectedRegister(String)
        /// A number is malformed.
        case badNumber(String)
        /// A number does not fit the field it is written into.
        case outOfRange(String, field: String, range: String)
        /// A memory operand is not `[%rN]`, `[%rN+off]` or `[%rN-off]`.
        case badMemoryOperand(String)
        /// A jump target is neither a label nor a signed offset (`+3`, `-1`).
        case badJumpTarget(String)
        /// A jump or call names a label the text does not define.
        case undefinedLabel(String)
        /// A label is defined twice.
        case duplicateLabel(String, firstLine: Int)
        /// A label name is malformed.
        case badLabel(String)
        /// The distance to a label does not fit the instruction's offset field.
        case labelOutOfRange(String, distance: Int, field: String)
        /// `call` with an unknown kind word, or a kind and target that do not go together.
        case badCallTarget(String)
        /// `lddw` with an unknown pseudo-source kind or wrong arguments for it.
        case badImmediate64(String)
        /// The text holds no instruction.
        case noInstructions

        public var description: String {
            switch self {
            case .unknownMnemonic(let m): "unknown mnemonic '\(m)'"
            case .unknownAtomicOperation(let m): "unknown atomic operation '\(m)' (lock [fetch] add|or|and|xor|xchg|cmpxchg[32])"
            case .operandCount(let m, let expected, let found): "'\(m)' takes \(expected), found \(found)"
            case .emptyOperand(let m): "'\(m)' has an empty operand"
            case .badRegister(let r): "'\(r)' is not a register (%r0–%r10)"
            case .expectedRegister(let o): "expected a register (%r0–%r10), found '\(o)'"
            case .badNumber(let n): "'\(n)' is not a number (decimal, or hexadecimal with 0x)"
            case .outOfRange(let n, let field, let range): "\(n) does not fit the \(field) (\(range))"
            case .badMemoryOperand(let o): "'\(o)' is not a memory operand ([%rN], [%rN+offset] or [%rN-offset])"
            case .badJumpTarget(let t): "'\(t)' is not a jump target (a label, or a signed offset such as +3 or -1)"
            case .undefinedLabel(let l): "label '\(l)' is not defined"
            case .duplicateLabel(let l, let first): "label '\(l)' is already defined on line \(first)"
            case .badLabel(let l): "'\(l)' is not a valid label name (letters, digits, '_' and '.', not starting with a digit)"
            case .labelOutOfRange(let l, let distance, let field): "label '\(l)' is \(distance) slots away, which does not fit the \(field)"
            case .badCallTarget(let t): "'\(t)' is not a call target (N, helper N, local LABEL|+N, runtime N, or %rN)"
            case .badImmediate64(let t): "'\(t)' is not a 64-bit immediate (a number, or map_fd N, map_value_fd N OFF, variable ID FD, code LABEL|+N, map_idx N, map_value_idx N OFF)"
            case .noInstructions: "the text holds no instructions"
            }
        }
    }

    public var description: String {
        "line \(line): \(reason) in '\(text)'"
    }
}
