import BPFRuntime
import BPFVerifier

/// An embedder function programs call as a kfunc: C declares it
/// `extern RET name(ARGS) __ksym;` and calls it; the ELF loader resolves the
/// call by the function's name in the object's BTF, and the loader turns it
/// into a call of a helper numbered for this load (`KernelFunctions`), so it
/// runs on every engine as helpers do. The prototype is what the verifier
/// checks calls against (numbers, and memory of a size), and what the 32-bit
/// backends place arguments by. The body must touch only the memory the
/// prototype declares (through `HelperCall.memory`, which checks it anyway).
public struct KernelFunction: Sendable {
    public enum Argument: Sendable, Hashable {
        /// A number of 32 or 64 bits.
        case scalar(bits: Int)
        /// A pointer to exactly `size` bytes the function reads, or also writes.
        case memory(size: Int, writable: Bool)
        /// A pointer to bytes the function reads or writes; their count is the next argument (`.size`).
        case buffer(writable: Bool)
        /// The size of the preceding `.buffer`.
        case size
    }

    public var name: String
    public var arguments: [Argument]
    /// Bits of the result (32 or 64; 0 for `void`).
    public var resultBits: Int
    public var body: Helper.Body

    public init(name: String, arguments: [Argument], resultBits: Int = 64, body: @escaping Helper.Body) {
        precondition(arguments.count <= 5, "eBPF passes at most five arguments (r1–r5)")
        self.name = name
        self.arguments = arguments
        self.resultBits = resultBits
        self.body = body
    }

    /// The helper prototype: argument widths and kinds for the engines.
    public var prototype: HelperPrototype {
        HelperPrototype(arguments.map { argument in
            switch argument {
            case .scalar(let bits): .scalar(bits: bits)
            case .memory(_, let writable), .buffer(let writable): .pointer(readOnly: !writable)
            case .size: .size
            }
        }, returns: resultBits == 0 ? .void : .scalar(bits: resultBits))
    }

    /// What the verifier checks calls against.
    public var verifierDescription: HelperDescription {
        var memory: [MemoryArgument] = []
        for (i, argument) in arguments.enumerated() {
            switch argument {
            case .memory(let size, let writable):
                memory.append(MemoryArgument(register: i + 1, size: .constant(size), access: writable ? .write : .read))
            case .buffer(let writable):
                memory.append(MemoryArgument(register: i + 1, size: .register(i + 2), access: writable ? .write : .read))
            case .scalar, .size:
                break
            }
        }
        let kinds: [HelperDescription.ArgumentKind] = arguments.map {
            switch $0 {
            case .memory, .buffer: .memory
            case .scalar, .size: .number
            }
        }
        return HelperDescription(arguments: arguments.count, result: .scalar, memoryArguments: memory, argumentKinds: kinds)
    }
}

/// The kfuncs an embedder offers, by name; each gets a helper number for
/// the load (from `firstHelperID`, in name order).
public struct KernelFunctions: Sendable {
    public static let firstHelperID: Int32 = 0x4B46_0000
    public private(set) var functions: [String: KernelFunction] = [:]

    public init(_ functions: [KernelFunction] = []) {
        for function in functions { register(function) }
    }

    /// Adds or replaces the function with this name.
    public mutating func register(_ function: KernelFunction) { functions[function.name] = function }

    /// Helper numbers by name.
    public var helperIDs: [String: Int32] {
        Dictionary(uniqueKeysWithValues: functions.keys.sorted().enumerated().map { ($1, Self.firstHelperID + Int32($0)) })
    }

    /// The functions as helpers, for the registry.
    public var helpers: [Helper] {
        let ids = helperIDs
        return functions.values.map { Helper(id: ids[$0.name]!, name: $0.name, prototype: $0.prototype, body: $0.body) }
    }

    /// What the verifier assumes of each, by helper number.
    public var verifierDescriptions: [Int32: HelperDescription] {
        let ids = helperIDs
        return Dictionary(uniqueKeysWithValues: functions.values.map { (ids[$0.name]!, $0.verifierDescription) })
    }
}
