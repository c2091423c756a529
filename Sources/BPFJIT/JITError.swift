import BPFISA

/// Why a JIT could not compile a program.
public enum JITError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An operand the target cannot encode (the poison of a pass).
    case unencodable(String)
    /// The instruction has no lowering on this backend.
    case unsupportedInstruction(pc: Int, what: String)
    /// The passes did not reach a stable layout within the bound.
    case didNotConverge(passes: Int)
    /// The image outgrew the room allocated for it.
    case imageOutgrewAllocation(size: Int, allocated: Int)
    /// A helper number nobody registered.
    case unknownHelper(pc: Int, id: Int32)
    /// More distinct helpers or instructions than the call-site encoding holds.
    case tooLarge(String)
    /// Executable memory could not be had.
    case memory(CodeMemoryError)

    public var pc: Int? {
        switch self {
        case .unsupportedInstruction(let pc, _), .unknownHelper(let pc, _): pc
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .unencodable(let why): "unencodable operand: \(why)"
        case .unsupportedInstruction(let pc, let what): "instruction \(pc): \(what) cannot be compiled"
        case .didNotConverge(let passes): "code layout did not converge after \(passes) passes"
        case .imageOutgrewAllocation(let size, let allocated):
            "image of \(size) bytes outgrew its allocation of \(allocated) bytes"
        case .unknownHelper(let pc, let id): "instruction \(pc): " + KernelHelperNames.unknownCall(id)
        case .tooLarge(let what): "program too large: \(what)"
        case .memory(let error): "executable memory: \(error)"
        }
    }
}
