/// Everything that can go wrong in executable memory.
///
/// One typed error for the module, so that callers (the JIT driver) can
/// `switch` over the failures instead of pattern-matching strings.
public enum ExecMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An image size of zero or less was asked for.
    case invalidSize(Int)
    /// The alignment is not a power of two, is narrower than the trap
    /// instruction, or is wider than one allocation unit.
    case invalidAlignment(Int)
    /// A trap pattern must be one instruction whose width is a power of two
    /// between 1 and 16 bytes, so that it tiles units and pages exactly.
    case invalidTrapPattern(width: Int)
    /// The bytes handed to `copy` do not fit the slot they were meant for.
    case imageTooLarge(bytes: Int, slotSize: Int)
    /// The slot was already freed, or belongs to another pack.
    case unknownSlot
    /// A patch or read-back range falls outside the memory it names.
    case outOfBounds(offset: Int, count: Int, limit: Int)
    /// The patched bytes span two naturally aligned 8-byte words, so they
    /// cannot be replaced by one atomic store; the JIT must align the site.
    case patchNotAtomic(offset: Int, count: Int)
    /// Something asked for memory that is writable and executable at once.
    /// The platform layer refuses it outright (defence in depth: the pack
    /// itself never asks).
    case writableAndExecutable
    /// A system call failed; `errno` is the value it left.
    case systemCall(String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidSize(let size):
            return "invalid image size \(size): must be at least one byte"
        case .invalidAlignment(let alignment):
            return "invalid alignment \(alignment): must be a power of two, at least the trap "
                + "instruction's width and at most \(ProgramPack.unitSize)"
        case .invalidTrapPattern(let width):
            return "invalid trap pattern of \(width) bytes: the width must be a power of two from 1 to 16"
        case .imageTooLarge(let bytes, let slotSize):
            return "image of \(bytes) bytes does not fit its slot of \(slotSize) bytes"
        case .unknownSlot:
            return "slot is not live in this pack (already freed, or from another pack)"
        case .outOfBounds(let offset, let count, let limit):
            return "range of \(count) bytes at offset \(offset) exceeds the \(limit) bytes available"
        case .patchNotAtomic(let offset, let count):
            return "patch of \(count) bytes at offset \(offset) crosses an 8-byte boundary and "
                + "cannot be stored atomically; align the patch site"
        case .writableAndExecutable:
            return "refused to map memory writable and executable at once (W^X)"
        case .systemCall(let name, let errno):
            return "\(name) failed with errno \(errno)"
        }
    }
}
