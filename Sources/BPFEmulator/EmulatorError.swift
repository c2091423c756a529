/// Why an emulated machine or program could not be set up.
///
/// Failures while a program runs are `ExecutionError`s like every engine's;
/// these are the ones that happen before: describing the CPU, reserving
/// addresses, loading an image.
public enum EmulatorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The architecture description is inconsistent (e.g. not five argument locations).
    case invalidArchitecture(name: String, reason: String)
    /// Unicorn refused an operation; `code` is its `uc_err`.
    case unicorn(operation: String, code: UInt32, message: String)
    /// A system call failed; `errno` is the value it left.
    case systemCall(String, errno: Int32)
    /// No room is left in an address area (code area, trampoline slots, guest windows).
    case addressSpaceExhausted(String)
    /// The image cannot be loaded as asked (empty, entry outside it, address not representable...).
    case invalidImage(String)

    public var description: String {
        switch self {
        case .invalidArchitecture(let name, let reason):
            "emulated architecture \(name) is invalid: \(reason)"
        case .unicorn(let operation, let code, let message):
            "Unicorn \(operation) failed (\(code)): \(message)"
        case .systemCall(let name, let errno):
            "\(name) failed with errno \(errno)"
        case .addressSpaceExhausted(let what):
            "emulator address space exhausted: \(what)"
        case .invalidImage(let reason):
            "cannot load image: \(reason)"
        }
    }
}
