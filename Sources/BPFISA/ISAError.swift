/// Why bytes or instructions are not a valid eBPF program.
///
/// Every case names the slot index (the instruction's position counted in
/// 8-byte slots, as jump offsets count) so that a user can find the culprit.
public enum ISAError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The byte count is not a multiple of 8.
    case truncatedBytes(count: Int)
    /// The program has no instructions.
    case emptyProgram
    /// The opcode byte names no instruction of cpu v1–v4.
    case unknownOpcode(index: Int, opcode: UInt8)
    /// A field that must be zero (or must hold one of a few values) does not.
    case reservedField(index: Int, field: String, value: Int64, opcode: UInt8)
    /// A register field holds 11–15.
    case invalidRegister(index: Int, field: String, value: UInt8)
    /// A field holds a value the instruction does not define.
    case invalidField(index: Int, field: String, value: Int64, reason: String)
    /// The legacy packet loads (LD ABS / LD IND) are not supported.
    case legacyPacketAccess(index: Int)
    /// A 64-bit immediate load is missing its second slot, or that slot is malformed.
    case malformedImmediate64(index: Int, reason: String)
    /// A jump or local call leads outside the program or into the middle of an instruction.
    case badJumpTarget(index: Int, target: Int, count: Int)
    /// A jump leaves its function `[function, end)` (the kernel's "jump out of range").
    case jumpOutOfFunction(index: Int, target: Int, function: Int, end: Int)
    /// Control can run past the last instruction.
    case fallsOffEnd(index: Int)
    /// A register the program may not write (r10) is written.
    case writesFramePointer(index: Int)

    /// Slot index the error refers to, when there is one.
    public var index: Int? {
        switch self {
        case .truncatedBytes, .emptyProgram: nil
        case .unknownOpcode(let i, _), .reservedField(let i, _, _, _), .invalidRegister(let i, _, _),
             .invalidField(let i, _, _, _), .legacyPacketAccess(let i), .malformedImmediate64(let i, _),
             .badJumpTarget(let i, _, _), .jumpOutOfFunction(let i, _, _, _), .fallsOffEnd(let i), .writesFramePointer(let i):
            i
        }
    }

    public var description: String {
        switch self {
        case .truncatedBytes(let count):
            "program is \(count) bytes, not a multiple of the 8-byte instruction size"
        case .emptyProgram:
            "program has no instructions"
        case .unknownOpcode(let i, let op):
            "instruction \(i): unknown opcode 0x\(hex(op))"
        case .reservedField(let i, let field, let value, let op):
            "instruction \(i): opcode 0x\(hex(op)) requires \(field) to be 0, found \(value)"
        case .invalidRegister(let i, let field, let value):
            "instruction \(i): \(field) register r\(value) does not exist (r0–r10)"
        case .invalidField(let i, let field, let value, let reason):
            "instruction \(i): \(field) = \(value): \(reason)"
        case .legacyPacketAccess(let i):
            "instruction \(i): legacy packet access (LD ABS/IND) is not supported"
        case .malformedImmediate64(let i, let reason):
            "instruction \(i): 64-bit immediate load \(reason)"
        case .badJumpTarget(let i, let target, let count):
            "instruction \(i): jump target \(target) is outside the program (0..<\(count)) or inside a 16-byte instruction"
        case .jumpOutOfFunction(let i, let target, let function, let end):
            "instruction \(i): jump out of range: target \(target) is outside the BPF function at [\(function), \(end)) that holds the jump"
        case .fallsOffEnd(let i):
            "instruction \(i): control can fall off the end of the program (last instruction must be exit or ja)"
        case .writesFramePointer(let i):
            "instruction \(i): writes r10, the read-only frame pointer"
        }
    }
}

func hex<T: BinaryInteger>(_ value: T, width: Int = 2) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
