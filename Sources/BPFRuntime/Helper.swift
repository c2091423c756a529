import BPFISA

/// What a helper argument or result is, as the verifier and the 32-bit JIT
/// backends need to know it.
///
/// The 32-bit backends (arm32, MIPS32) must know each argument's width to
/// place it under the native calling convention: on arm32 a 64-bit argument
/// takes an aligned register pair or a stack slot, a 32-bit one a single
/// register (seed 001). Pointers are 32 bits wide there.
public enum ValueKind: Sendable, Hashable {
    /// An integer of 32 or 64 bits.
    case scalar(bits: Int)
    /// A pointer to memory the helper reads (`readOnly`) or writes; its size is
    /// the argument marked `.size` that follows it.
    case pointer(readOnly: Bool)
    /// The size of the memory pointed to by the previous argument.
    case size
    /// A pointer to a map (from a 64-bit immediate load of a map).
    case map
    /// The program's context (r1 on entry).
    case context
    /// A pointer to a map value, or null (results of lookups).
    case mapValueOrNull
    /// Nothing (a `void` result).
    case void

    /// Width in bits on a 64-bit host.
    public var bits: Int {
        switch self {
        case .scalar(let bits): bits
        case .void: 0
        default: 64
        }
    }
}

/// The signature of a helper: kinds of its arguments (at most five) and of its result.
public struct HelperPrototype: Sendable, Hashable {
    public var arguments: [ValueKind]
    public var result: ValueKind

    public init(_ arguments: [ValueKind], returns result: ValueKind) {
        precondition(arguments.count <= 5, "eBPF passes at most five arguments (r1–r5)")
        self.arguments = arguments
        self.result = result
    }
}

/// A failure inside a helper; stops the program with an error naming the call.
public struct HelperError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The view a helper has of one call: its arguments and the memory the
/// program may touch, with every access checked.
public struct HelperCall: ~Copyable {
    /// r1–r5 at the call.
    public let arguments: (UInt64, UInt64, UInt64, UInt64, UInt64)
    /// The program's memory, checked against its regions.
    public let memory: MemoryAccess
    /// The helper number being called.
    public let helperID: Int32

    public init(helperID: Int32, arguments: (UInt64, UInt64, UInt64, UInt64, UInt64), memory: MemoryAccess) {
        self.helperID = helperID
        self.arguments = arguments
        self.memory = memory
    }

    /// Argument `i` (1–5), as in r1–r5.
    public func argument(_ i: Int) -> UInt64 {
        switch i {
        case 1: arguments.0
        case 2: arguments.1
        case 3: arguments.2
        case 4: arguments.3
        default: arguments.4
        }
    }
}

/// A function a program can call by number.
public struct Helper: Sendable {
    public typealias Body = @Sendable (borrowing HelperCall) throws(HelperError) -> UInt64

    public var id: Int32
    public var name: String
    public var prototype: HelperPrototype
    public var body: Body
    /// A native entry JITs may call instead of `body` (same results); nil for most helpers.
    public var native: NativeHelper?
    /// For a call whose arguments the verifier proved (`HelperCallProof`:
    /// r1 is this map handle on every path, every memory argument in
    /// bounds): how a JIT may run it with no checks and no way to fail, or
    /// nil (then the call goes through `native` or `body`).
    public var proven: (@Sendable (_ mapHandle: UInt64) -> ProvenHelperCall?)?
    /// For a helper whose result is a pointer: whether, given r1, a non-null
    /// result is a map handle rather than memory (a lookup in a map of maps
    /// gives an inner map). Engines that translate pointers (the 32-bit
    /// targets) pass such results on as handles; nil: always memory.
    public var resultIsMapHandle: (@Sendable (_ r1: UInt64) -> Bool)?

    public init(id: Int32, name: String, prototype: HelperPrototype, native: NativeHelper? = nil,
                proven: (@Sendable (_ mapHandle: UInt64) -> ProvenHelperCall?)? = nil, body: @escaping Body) {
        self.id = id
        self.name = name
        self.prototype = prototype
        self.native = native
        self.proven = proven
        self.body = body
    }
}

/// How a JIT runs a helper call the verifier proved (see `Helper.proven`):
/// the helper's results, computed from arguments nobody needs to check.
public enum ProvenHelperCall: Sendable, Hashable {
    /// A C function of r1–r5 returning r0 (`ProvenHelperCall.Function`):
    /// it reads its memory arguments unchecked, needs no run context, and
    /// cannot fail (errors are negative errno results, as the helper's).
    case function(UInt)
    /// `bpf_map_lookup_elem` of an array map with one value per element,
    /// emitted inline as the kernel's `map_gen_lookup` does: with the 32-bit
    /// key at r2, r0 = key < `maxEntries` ? `values` + key × `stride` : 0.
    case arrayLookup(values: UInt64, stride: Int, maxEntries: Int)

    public typealias Function = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64) -> UInt64

    /// A function's address, for `.function`.
    public static func address(of function: Function) -> UInt { unsafeBitCast(function, to: UInt.self) }
}

/// Helpers by number. Embedders add their own; the runtime adds the kernel's.
public struct HelperRegistry: Sendable {
    private var helpers: [Int32: Helper] = [:]

    public init(_ helpers: [Helper] = []) {
        for helper in helpers { register(helper) }
    }

    /// Adds or replaces the helper with this number.
    public mutating func register(_ helper: Helper) { helpers[helper.id] = helper }

    public subscript(id: Int32) -> Helper? { helpers[id] }

    /// All registered helpers, by number.
    public var all: [Helper] { helpers.values.sorted { $0.id < $1.id } }

    /// Adds every helper of `other`, replacing those with the same numbers.
    public mutating func merge(_ other: HelperRegistry) {
        for helper in other.all { register(helper) }
    }
}
