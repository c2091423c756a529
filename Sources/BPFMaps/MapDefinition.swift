/// Map types BPFKit implements, numbered as `enum bpf_map_type` in `<linux/bpf.h>`.
public enum MapType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case hash = 1
    case array = 2
    case programArray = 3
    case perfEventArray = 4
    case perCPUHash = 5
    case perCPUArray = 6
    case lruHash = 9
    case lruPerCPUHash = 10
    case arrayOfMaps = 12
    case hashOfMaps = 13
    case deviceMap = 14
    case cpuMap = 16
    case socketMap = 17
    case deviceMapHash = 25
    case ringBuffer = 27

    public var description: String {
        switch self {
        case .hash: "hash"
        case .array: "array"
        case .programArray: "prog_array"
        case .perfEventArray: "perf_event_array"
        case .arrayOfMaps: "array_of_maps"
        case .hashOfMaps: "hash_of_maps"
        case .perCPUHash: "percpu_hash"
        case .perCPUArray: "percpu_array"
        case .lruHash: "lru_hash"
        case .lruPerCPUHash: "lru_percpu_hash"
        case .deviceMap: "devmap"
        case .cpuMap: "cpumap"
        case .socketMap: "xskmap"
        case .deviceMapHash: "devmap_hash"
        case .ringBuffer: "ringbuf"
        }
    }

    /// The kernel's name for a map type number (`enum bpf_map_type`, lower case,
    /// as bpftool prints it), for messages about types BPFKit lacks.
    public static func kernelName(_ type: UInt32) -> String? {
        let names = ["unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array", "stack_trace",
                     "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap",
                     "cpumap", "xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray", "percpu_cgroup_storage", "queue",
                     "stack", "sk_storage", "devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
                     "user_ringbuf", "cgrp_storage", "arena"]
        return Int(type) < names.count ? names[Int(type)] : nil
    }

    /// Whether the map holds XDP redirect targets (`bpf_redirect_map`'s maps).
    public var isRedirectTarget: Bool { self == .deviceMap || self == .deviceMapHash || self == .cpuMap || self == .socketMap }

    /// Whether programs may call `bpf_map_lookup_elem` on maps of this type
    /// (the kernel's `check_map_func_compatibility`: a cpumap is reached only
    /// through `bpf_redirect_map`; ring buffers and program arrays have no values).
    public var programsMayLookUp: Bool {
        switch self {
        case .cpuMap, .ringBuffer, .programArray, .perfEventArray: false
        default: true
        }
    }

    /// Whether programs may call `bpf_map_update_elem` / `bpf_map_delete_elem`
    /// on maps of this type (the kernel refuses both for redirect maps).
    public var programsMayUpdate: Bool { !isRedirectTarget && self != .perfEventArray && !isMapOfMaps }

    /// array_of_maps and hash_of_maps: values are inner maps.
    public var isMapOfMaps: Bool { self == .arrayOfMaps || self == .hashOfMaps }

    /// Whether each element holds one value per CPU slot (see `CPUSlots`).
    public var isPerCPU: Bool { self == .perCPUArray || self == .perCPUHash || self == .lruPerCPUHash }
}

/// Map creation flags (`BPF_F_*`) BPFKit honours or accepts.
public struct MapFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_F_NO_PREALLOC`: accepted; BPFKit always preallocates (values must never move).
    public static let noPrealloc = MapFlags(rawValue: 1 << 0)
    /// `BPF_F_NO_COMMON_LRU`: accepted; BPFKit keeps one LRU list per map.
    public static let noCommonLRU = MapFlags(rawValue: 1 << 1)
    /// `BPF_F_NUMA_NODE`: accepted (redirect maps take it); BPFKit has one memory node.
    public static let numaNode = MapFlags(rawValue: 1 << 2)
    /// `BPF_F_RDONLY`: the host may not update (accepted, not enforced for the host).
    public static let readOnly = MapFlags(rawValue: 1 << 3)
    /// `BPF_F_WRONLY`.
    public static let writeOnly = MapFlags(rawValue: 1 << 4)
    /// `BPF_F_RDONLY_PROG`: programs may read values but not write them (`.rodata`).
    public static let readOnlyProgram = MapFlags(rawValue: 1 << 7)
    /// `BPF_F_WRONLY_PROG`.
    public static let writeOnlyProgram = MapFlags(rawValue: 1 << 8)
    /// `BPF_F_MMAPABLE`: global data maps set it; harmless here.
    public static let mmapable = MapFlags(rawValue: 1 << 10)
    /// `BPF_F_INNER_MAP`: inner maps of different max_entries fit the same outer map.
    public static let innerMap = MapFlags(rawValue: 1 << 12)

    static let known: MapFlags = [.noPrealloc, .numaNode, .noCommonLRU, .readOnly, .writeOnly, .readOnlyProgram, .writeOnlyProgram, .mmapable, .innerMap]
}

/// What a map is: the same fields as `bpf_attr` for `BPF_MAP_CREATE`, typed.
public struct MapDefinition: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var type: MapType
    public var keySize: Int
    public var valueSize: Int
    public var maxEntries: Int
    public var flags: MapFlags
    /// For array_of_maps and hash_of_maps: what every inner map must look like
    /// (the kernel's `inner_map_fd` at creation; libbpf's `__array(values, ...)`).
    public var innerTemplate: MapDefinition? {
        get { inner.first }
        set { inner = newValue.map { [$0] } ?? [] }
    }
    private var inner: [MapDefinition] = []

    public init(name: String, type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags = []) {
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
    }

    /// A map of maps with its inner map template.
    public init(name: String, type: MapType, keySize: Int, valueSize: Int, maxEntries: Int, flags: MapFlags = [],
                innerTemplate: MapDefinition?) {
        self.init(name: name, type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries, flags: flags)
        self.innerTemplate = innerTemplate
    }

    /// Whether `map` may be an inner map of an outer map with this template
    /// (the kernel's `bpf_map_meta_equal`: type, sizes, flags; max_entries
    /// too unless the template has `BPF_F_INNER_MAP`). nil when it fits,
    /// otherwise the difference.
    public func innerMismatch(_ map: MapDefinition) -> String? {
        guard let template = innerTemplate else { return "'\(name)' has no inner map template" }
        if map.type != template.type { return "'\(map.name)' is a \(map.type), the template a \(template.type)" }
        if map.keySize != template.keySize || map.valueSize != template.valueSize {
            return "'\(map.name)' has key \(map.keySize) value \(map.valueSize), the template key \(template.keySize) value \(template.valueSize)"
        }
        if map.flags.subtracting(.innerMap) != template.flags.subtracting(.innerMap) { return "'\(map.name)' has other flags than the template" }
        if !template.flags.contains(.innerMap), map.maxEntries != template.maxEntries {
            return "'\(map.name)' has max_entries \(map.maxEntries), the template \(template.maxEntries) (without BPF_F_INNER_MAP)"
        }
        if map.type.isMapOfMaps { return "'\(map.name)' is itself a map of maps" }
        return nil
    }

    /// The kernel's limit on key sizes (`MAX_BPF_STACK`: a key is built on the stack).
    public static let maxKeySize = 512
    /// BPFKit's limit on one value (1 MiB), far below the kernel's kmalloc limit but
    /// plenty for packet programs.
    public static let maxValueSize = 1 << 20
    /// BPFKit's limit on the storage of one map (1 GiB), so a nonsensical
    /// definition fails with an error instead of exhausting memory.
    public static let maxMapBytes = 1 << 30

    /// Bytes between consecutive values: the kernel rounds values up to 8.
    public var valueStride: Int { (valueSize + 7) & ~7 }

    /// Checks the definition the way `BPF_MAP_CREATE` does for its type.
    public func validate() throws(MapError) {
        func bad(_ reason: String) -> MapError { .invalidDefinition(map: name, reason: reason) }
        guard flags.isSubset(of: MapFlags.known) else {
            throw bad("unknown map flags 0x\(String(flags.subtracting(MapFlags.known).rawValue, radix: 16))")
        }
        if type == .perfEventArray {
            // max_entries 0: one slot per CPU (libbpf's default for this type).
            guard keySize == 4, valueSize == 4 else { throw bad("perf_event_array keys and values are 4 bytes (CPU, perf event descriptor)") }
            guard maxEntries >= 0, maxEntries <= 1 << 16 else { throw bad("max_entries \(maxEntries) is not a CPU count") }
            return
        }
        guard maxEntries > 0 else { throw bad("max_entries must be at least 1") }
        switch type {
        case .ringBuffer:
            guard keySize == 0, valueSize == 0 else { throw bad("a ring buffer has key and value size 0") }
            // As the kernel: a ring buffer takes no access flags (its producers are programs).
            guard flags.isDisjoint(with: [.readOnlyProgram, .writeOnlyProgram]) else {
                throw bad("a ring buffer cannot be read-only or write-only for programs")
            }
            guard maxEntries >= 4096, maxEntries & (maxEntries - 1) == 0, maxEntries <= Self.maxMapBytes / 2 else {
                throw bad("ring buffer size \(maxEntries) must be a power of 2, at least 4096 (a page) and at most \(Self.maxMapBytes / 2)")
            }
            return
        case .array, .perCPUArray, .programArray:
            guard keySize == 4 else { throw bad("\(type) keys are 4-byte indices, not \(keySize) bytes") }
        case .deviceMap, .deviceMapHash, .cpuMap, .socketMap:
            try validateRedirectMap()
            return
        case .perfEventArray:
            return // checked above
        case .arrayOfMaps, .hashOfMaps:
            guard valueSize == 4 else { throw bad("\(type) values are 4-byte map descriptors, not \(valueSize) bytes") }
            guard type == .hashOfMaps || keySize == 4 else { throw bad("array_of_maps keys are 4-byte indices, not \(keySize) bytes") }
            guard keySize > 0, keySize <= Self.maxKeySize else { throw bad("key size \(keySize) is not between 1 and \(Self.maxKeySize)") }
            guard maxEntries <= 1 << 20 else { throw bad("\(maxEntries) entries exceed BPFKit's limit of \(1 << 20) for \(type)") }
            guard let template = innerTemplate else { throw bad("\(type) needs an inner map template (__array(values, ...))") }
            guard !template.type.isMapOfMaps else { throw bad("inner maps cannot be maps of maps") }
            return
        case .hash, .lruHash, .perCPUHash, .lruPerCPUHash:
            guard keySize > 0 else { throw bad("key size must be at least 1") }
            guard keySize <= Self.maxKeySize else { throw bad("key size \(keySize) exceeds \(Self.maxKeySize) bytes") }
        }
        if type == .programArray {
            guard valueSize == 4 else { throw bad("prog_array values are 4-byte program descriptors, not \(valueSize) bytes") }
            // Each slot has a word per engine in the native table, plus the target itself.
            guard maxEntries <= Self.maxMapBytes / 128 else {
                throw bad("prog_array of \(maxEntries) entries exceeds the \(Self.maxMapBytes >> 20) MiB map limit (\(Self.maxMapBytes / 128) entries)")
            }
            return
        }
        guard valueSize > 0 else { throw bad("value size must be at least 1") }
        guard valueSize <= Self.maxValueSize else { throw bad("value size \(valueSize) exceeds \(Self.maxValueSize) bytes") }
        let copies = type.isPerCPU ? CPUSlots.count : 1
        let (bytes, overflow) = maxEntries.multipliedReportingOverflow(by: valueStride * copies + keySize)
        guard !overflow, bytes <= Self.maxMapBytes else {
            throw bad("\(maxEntries) entries of \(valueStride * copies + keySize) bytes exceed the \(Self.maxMapBytes >> 20) MiB map limit")
        }
    }

    public var description: String {
        "\(name): \(type) key \(keySize) value \(valueSize) max_entries \(maxEntries)" + (flags.isEmpty ? "" : " flags 0x\(String(flags.rawValue, radix: 16))")
    }
}
