import BPFISA
import BPFRuntime

/// What the verifier knows about a program's surroundings: the registers it
/// starts with, the constants its 64-bit immediate loads may hold (map
/// handles and global-data addresses, after the loader's rewrites), and the
/// helpers it may call.
///
/// Everything left out is assumed to be the worst: an unknown constant is a
/// plain number, an unknown helper clobbers r1–r5, returns an unknown number
/// and may move the packet.
public struct VerifierEnvironment: Sendable {
    /// r1 at entry.
    public var context: ContextDescription
    /// Whether r2 holds a value at entry (`mem`: the input length).
    public var r2IsSetAtEntry: Bool
    /// Maps by handle (the value a rewritten `ld_imm64` of a map loads).
    public var maps: [UInt64: MapDescription]
    /// Global-data values (the one-element array maps `.data`, `.rodata`,
    /// `.bss`) whose addresses rewritten `ld_imm64` loads hold.
    public var dataRegions: [DataRegion]
    /// Helpers by number, described by what they do to registers and the packet.
    public var helpers: [Int32: HelperDescription]
    /// Byte ranges of a `packetContext` that programs may write (tc's
    /// `mark`, `cb[]`, ...); the rest of the context is read-only.
    public var writableContext: [Range<Int>] = []
    /// Instructions a path may not reach, with the reason (calls the loader
    /// poisoned because a CO-RE relocation could not be resolved): the
    /// program is refused only if one is reachable, as the kernel refuses
    /// the unknown helper libbpf writes there.
    public var poisonedInstructions: [Int: String] = [:]
    /// The loops the loader put in place of callback helpers (`bpf_loop`,
    /// `bpf_for_each_map_elem`), by the entry slot of the loop function.
    public var callbackLoops: [Int: CallbackLoop] = [:]
    /// `mem`: r1 points to r2 bytes the run may read and write (its input),
    /// so r1 is a buffer whose end is r1 + r2, followed as the packet is:
    /// accesses through it are proven against what comparisons with r2 (or
    /// with r1 + r2) established. Proofs made so hold only for runs the
    /// host starts with those registers: a tail call enters its target with
    /// r2 holding the program array (`LinkedProgram` verifies tail-call
    /// targets again without it).
    public var r2IsInputLength = false
    /// With `r2IsInputLength`: the longest input a run is given (the run
    /// entries refuse longer ones), so r2 starts in `[0, limit]`; nil: no
    /// limit is known.
    public var inputLengthLimit: Int? = nil

    /// How far before `data` a packet's memory may start: XDP metadata
    /// (`bpf_xdp_adjust_meta`, whose BPFKit implementation refuses more
    /// than 255 bytes; the kernel's, more than 32); tc's packet starts at
    /// `data`. An access through a packet pointer that lies wholly below
    /// this touches no packet memory on any run, and is refused.
    public static let maxPacketMetadata = 255

    public init(context: ContextDescription = .unknown, r2IsSetAtEntry: Bool = false, maps: [UInt64: MapDescription] = [:],
                dataRegions: [DataRegion] = [], helpers: [Int32: HelperDescription] = [:]) {
        self.context = context
        self.r2IsSetAtEntry = r2IsSetAtEntry
        self.maps = maps
        self.dataRegions = dataRegions
        self.helpers = helpers
    }
}

/// What r1 points to at entry.
public enum ContextDescription: Sendable, Hashable {
    /// A pointer the verifier proves nothing about (the `mem` input buffer):
    /// r1 is treated as an unknown number.
    case unknown
    /// A read-only context of `size` bytes, 8-byte aligned, whose 8-byte
    /// fields at the given offsets load as packet pointers.
    case packetContext(size: Int, fields: [Int: ContextField])
}

/// What an 8-byte load of a context field gives.
public enum ContextField: Sendable, Hashable {
    /// The first byte of the packet (`data`).
    case packetStart
    /// One past the last byte of the packet (`data_end`).
    case packetEnd
    /// The start of the packet's metadata (`data_meta`); nothing is proven through it.
    case packetMeta
}

/// A map the program can name.
public struct MapDescription: Sendable, Hashable {
    /// Bytes of each key (nil: unknown, so no key argument is proven).
    public var keySize: Int?
    /// Bytes of each value.
    public var valueSize: Int
    /// Whether `bpf_map_lookup_elem` returns a pointer to a value of
    /// `valueSize` bytes (array, hash and their per-CPU and LRU kinds), or
    /// null; false for maps whose lookup returns something else (program
    /// arrays, ring buffers).
    public var lookupReturnsValue: Bool
    /// Whether programs may write values (false for `BPF_F_RDONLY_PROG`).
    public var writable: Bool
    /// For a map of maps: the inner map template, which every inner map fits
    /// (a lookup gives one of them, or null).
    public var innerTemplate: MapDescription? {
        get { inner.first }
        set { inner = newValue.map { [$0] } ?? [] }
    }
    private var inner: [MapDescription] = []

    public init(keySize: Int? = nil, valueSize: Int, lookupReturnsValue: Bool, writable: Bool) {
        self.keySize = keySize
        self.valueSize = valueSize
        self.lookupReturnsValue = lookupReturnsValue
        self.writable = writable
    }
}

/// The value of a global-data map: `size` bytes at `start`, 8-byte aligned.
public struct DataRegion: Sendable, Hashable {
    public var start: UInt64
    public var size: Int
    public var writable: Bool

    public init(start: UInt64, size: Int, writable: Bool) {
        self.start = start
        self.size = size
        self.writable = writable
    }
}

/// What a helper does, as far as registers, the packet and the memory its
/// pointer arguments name are concerned. (What helpers write to memory is
/// not tracked: every load gives an unknown number.)
public struct HelperDescription: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        /// An unknown number.
        case scalar
        /// `bpf_map_lookup_elem`: a pointer to a value of r1's map, or null.
        case mapValueOrNull
        /// `bpf_tail_call`: on success the run continues in another program
        /// and does not come back; otherwise r0 is unknown. r1 must be the
        /// program's own context, unmodified (the target runs with it).
        case tailCall
        /// `bpf_ringbuf_reserve`: a reference the program must release
        /// (null-checked first) before it exits or tail-calls, or null.
        case acquiresReference(ReferenceKind)
    }
    /// What one argument register carries, as far as pointers are concerned.
    public enum ArgumentKind: Sendable, Hashable {
        /// A number (a pointer here would be handed out as one).
        case number
        /// Memory the helper reads or writes (see `memoryArguments`).
        case memory
        /// A map handle.
        case map
        /// The program's context.
        case context
        /// A reference the helper releases (`bpf_ringbuf_submit`): a
        /// non-null reference from `acquiresReference`, unmodified.
        case releasedReference
    }
    /// How many of r1–r5 it reads.
    public var arguments: Int
    public var result: Result
    /// Whether it may move the packet (`bpf_xdp_adjust_head/meta/tail`):
    /// afterwards no packet pointer is trusted, as in the kernel's
    /// `clear_all_pkt_pointers`.
    public var movesPacket: Bool
    /// The memory it reads or writes through its arguments (empty: none),
    /// or nil when that is not described (then a stack pointer among its
    /// arguments goes where the verifier does not follow).
    public var memoryArguments: [MemoryArgument]?
    /// What r1, r2, ... carry (nil: not described; then no argument may
    /// carry a pointer under a policy that forbids pointer leaks, and none
    /// releases a reference).
    public var argumentKinds: [ArgumentKind]?
    /// Whether it changes the map whose handle r1 holds (update, delete,
    /// push, pop, ring-buffer output): refused on a map read-only for
    /// programs (`BPF_F_RDONLY_PROG`, `.rodata`), as the kernel's "write
    /// into map forbidden".
    public var modifiesMap: Bool

    public init(arguments: Int, result: Result = .scalar, movesPacket: Bool = false, memoryArguments: [MemoryArgument]? = nil,
                argumentKinds: [ArgumentKind]? = nil, modifiesMap: Bool = false) {
        self.arguments = arguments
        self.result = result
        self.movesPacket = movesPacket
        self.memoryArguments = memoryArguments
        self.argumentKinds = argumentKinds
        self.modifiesMap = modifiesMap
    }

    /// Whether it releases the reference in the argument register `number`.
    func releases(_ number: Int) -> Bool {
        guard let kinds = argumentKinds, number >= 1, number <= kinds.count else { return false }
        return kinds[number - 1] == .releasedReference
    }

    /// An unknown helper: reads r1–r5, returns an unknown number, may move
    /// the packet, may touch any memory its arguments point to.
    public static let unknown = HelperDescription(arguments: 5, result: .scalar, movesPacket: true)
}

/// Memory a helper reads or writes through one argument: `size` bytes from
/// the address in `register`.
public struct MemoryArgument: Sendable, Hashable {
    public enum Size: Sendable, Hashable {
        /// The key size of the map whose handle r1 holds.
        case keySize
        /// The value size of the map whose handle r1 holds.
        case valueSize
        case constant(Int)
        /// The number in another argument register (1–5); a size of 0 touches nothing.
        case register(Int)
    }
    public enum Access: Sendable, Hashable { case read, write }

    /// The argument register holding the address (1–5).
    public var register: Int
    public var size: Size
    public var access: Access

    public init(register: Int, size: Size, access: Access) {
        self.register = register
        self.size = size
        self.access = access
    }
}

/// A kind of object a program acquires from a helper and must release
/// before it exits (the kernel's acquired references, `ref_obj_id`).
public enum ReferenceKind: Sendable, Hashable {
    /// A ring-buffer record from `bpf_ringbuf_reserve`, released by
    /// `bpf_ringbuf_submit` or `bpf_ringbuf_discard`.
    case ringBufferRecord

    var name: String {
        switch self {
        case .ringBufferRecord: "ring-buffer record"
        }
    }
}

/// What a host trusts the program it loads with.
///
/// `privileged` (the default) proves what it can and refuses only what no
/// run could survive soundly (see `VerificationReport.refusal`).
/// `unprivileged` is for code the host does not trust (plugin sandboxes):
/// it also refuses every program that may leak a pointer, as the kernel
/// does without `allow_ptr_leaks`, and requires verification.
public struct VerifierPolicy: Sendable, Hashable {
    /// Whether a program may turn pointers into numbers it can see or hand
    /// out: a pointer in r0 at exit, stored to memory, passed to a helper as
    /// a number, compared with a number or made a number by arithmetic.
    public var allowsPointerLeaks: Bool
    /// Whether a program must be verified to be loaded (no unverified loads).
    public var requiresVerification: Bool
    /// Whether loads harden the program against speculative and JIT-spraying
    /// attacks (constant blinding in the JITs) without being asked to.
    /// Engines read this; the verifier does not.
    public var hardensByDefault: Bool

    public init(allowsPointerLeaks: Bool = true, requiresVerification: Bool = false, hardensByDefault: Bool = false) {
        self.allowsPointerLeaks = allowsPointerLeaks
        self.requiresVerification = requiresVerification
        self.hardensByDefault = hardensByDefault
    }

    /// Trusted code: pointer leaks allowed, verification optional.
    public static let privileged = VerifierPolicy()
    /// Untrusted code: no pointer leaks, verification mandatory, hardened.
    public static let unprivileged = VerifierPolicy(allowsPointerLeaks: false, requiresVerification: true, hardensByDefault: true)
}
