/// The XDP redirect maps: `BPF_MAP_TYPE_DEVMAP`, `DEVMAP_HASH`, `CPUMAP` and
/// `XSKMAP`, the maps `bpf_redirect_map` looks its target up in.
///
/// BPFKit has no network devices, CPUs to queue to or AF_XDP sockets: an
/// entry is what the embedder put there, and a redirect through it is
/// reported to the embedder as the run's forwarding decision (the helper in
/// BPFHelpers). The maps keep the kernel's rules for what an entry is:
///
/// - `devmap` (an array of `max_entries` slots) and `devmap_hash` (up to
///   `max_entries` keys): 4-byte keys; values are `struct bpf_devmap_val`,
///   4 bytes (`ifindex`) or 8 (`ifindex`, `bpf_prog.fd`). An ifindex of 0
///   empties a devmap slot and is refused by a devmap_hash; a devmap program
///   (`bpf_prog.fd > 0`) is refused, as BPFKit does not run them.
/// - `cpumap`: 4-byte CPU keys, values `struct bpf_cpumap_val` (`qsize`, and
///   optionally `bpf_prog.fd`); a queue size of 0 empties the slot, more than
///   16,384 is refused, and the CPU must be one of `CPUSlots.count`.
/// - `xskmap`: 4-byte queue keys, 4-byte values standing for the socket
///   (the embedder's identifier for it; any value makes the slot present).
///
/// Programs may look up devmap, devmap_hash and xskmap entries (the value,
/// read-only, as the kernel's verifier makes it) but not cpumap entries, and
/// may not update or delete any of them (`MapType.programsMayLookUp` and
/// `programsMayUpdate`; the helpers refuse such calls). On the host, lookups
/// of an xskmap answer EOPNOTSUPP as the kernel's do.
public final class RedirectMap: BPFMap, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    /// One slot per entry, read-only to programs.
    let values: Slab
    private let lock = Lock()
    /// Whether each slot holds an entry.
    private var present: [Bool]
    /// devmap_hash: the slot of each key, and free slots.
    private var slotOfKey: [UInt32: Int] = [:]
    private var keyOfSlot: [UInt32]
    private var freeSlots: [Int]

    /// The kernel's largest cpumap queue.
    public static let maxQueueSize: UInt32 = 16_384

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        values = Slab(count: definition.maxEntries, stride: definition.valueStride, usableSize: definition.valueSize, writable: false)
        present = Array(repeating: false, count: definition.maxEntries)
        keyOfSlot = Array(repeating: 0, count: definition.maxEntries)
        freeSlots = definition.type == .deviceMapHash ? Array((0..<definition.maxEntries).reversed()) : []
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [values.region] }

    private var isHash: Bool { definition.type == .deviceMapHash }

    /// The slot holding `key`'s entry, if any (call under the lock).
    private func slot(_ key: UInt32) -> Int? {
        if isHash { return slotOfKey[key] }
        let i = Int(key)
        return i < definition.maxEntries && present[i] ? i : nil
    }

    private static func key(_ bytes: UnsafeRawBufferPointer) -> UInt32 { bytes.loadUnaligned(as: UInt32.self) }

    // MARK: Redirects

    /// What `bpf_redirect_map` finds under `key`: whether an entry is
    /// there, and for device maps the entry's ifindex.
    public func redirectEntry(_ key: UInt32) -> (present: Bool, interface: UInt32?) {
        lock.withLock {
            guard let slot = slot(key) else { return (false, nil) }
            switch definition.type {
            case .deviceMap, .deviceMapHash: return (true, values.load(UInt32.self, at: slot * values.stride))
            default: return (true, nil)
            }
        }
    }

    // MARK: Program side

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 {
        guard definition.type.programsMayLookUp, key.count >= 4 else { return 0 }
        return lock.withLock { slot(Self.key(key)).map { values.address(of: $0) } ?? 0 }
    }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        throw .unsupported("programs cannot update \(definition.type) '\(definition.name)'")
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        throw .unsupported("programs cannot delete from \(definition.type) '\(definition.name)'")
    }

    // MARK: Host side

    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] {
        try checkKey(key)
        if definition.type == .socketMap { throw .unsupported("xskmap entries cannot be read back (sockets are not values)") }
        let k = key.withUnsafeBytes { Self.key($0) }
        return try lock.withLock { () throws(MapError) -> [UInt8] in
            guard let slot = slot(k) else { throw .noSuchKey }
            return values.copyOut(slot, count: definition.valueSize)
        }
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        try checkKey(key)
        try checkValue(value)
        let k = key.withUnsafeBytes { Self.key($0) }
        let first = value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let program = value.count >= 8 ? value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) } : 0
        let name = definition.name
        // Array-like maps: every index exists, so NOEXIST always fails (as for arrays).
        if !isHash {
            guard Int(k) < definition.maxEntries else { throw .full }
            if flags == .noExist { throw .keyExists }
        }
        var clears = false
        switch definition.type {
        case .deviceMap, .deviceMapHash:
            if program > 0 {
                throw .unsupported("'\(name)': devmap entries with a program (bpf_prog.fd \(program)) are not supported")
            }
            if first == 0 {
                // devmap: ifindex 0 empties the slot; devmap_hash refuses it.
                guard !isHash else { throw .invalidArgument("'\(name)': a devmap_hash entry needs a non-zero ifindex") }
                guard program <= 0 else { throw .invalidArgument("'\(name)': bpf_prog.fd with ifindex 0") }
                clears = true
            }
        case .cpuMap:
            if first > Self.maxQueueSize {
                throw .invalidArgument("'\(name)': qsize \(first) exceeds \(Self.maxQueueSize) (the kernel answers EOVERFLOW)")
            }
            guard Int(k) < CPUSlots.count else {
                throw .invalidArgument("'\(name)': CPU \(k) is not one of the \(CPUSlots.count) CPU slots (the kernel answers ENODEV)")
            }
            if program > 0 {
                throw .unsupported("'\(name)': cpumap entries with a program (bpf_prog.fd \(program)) are not supported")
            }
            clears = first == 0
        default:
            break
        }
        try lock.withLock { () throws(MapError) in
            if clears {
                present[Int(k)] = false
                values.zero(Int(k))
                return
            }
            let slot: Int
            if isHash {
                if let existing = slotOfKey[k] {
                    if flags == .noExist { throw .keyExists }
                    slot = existing
                } else {
                    if flags == .exist { throw .noSuchKey }
                    guard let free = freeSlots.popLast() else { throw .full }
                    slot = free
                    slotOfKey[k] = slot
                    keyOfSlot[slot] = k
                }
            } else {
                slot = Int(k)
            }
            values.zero(slot)
            // The prog field reads back as a program id, 0 for none.
            values.copyIn(Array(value[0..<4]), to: slot)
            present[slot] = true
        }
    }

    public func delete(key: [UInt8]) throws(MapError) {
        try checkKey(key)
        let k = key.withUnsafeBytes { Self.key($0) }
        try lock.withLock { () throws(MapError) in
            if isHash {
                guard let slot = slotOfKey.removeValue(forKey: k) else { throw .noSuchKey }
                present[slot] = false
                values.zero(slot)
                freeSlots.append(slot)
            } else {
                guard Int(k) < definition.maxEntries else { throw .invalidArgument("index \(k) is past max_entries \(definition.maxEntries)") }
                present[Int(k)] = false
                values.zero(Int(k))
            }
        }
    }

    public func keys() -> [[UInt8]] {
        lock.withLock {
            let keys: [UInt32] = isHash ? slotOfKey.keys.sorted() : present.indices.filter { present[$0] }.map { UInt32($0) }
            return keys.map { withUnsafeBytes(of: $0.littleEndian) { Array($0) } }
        }
    }
}

extension MapDefinition {
    /// `BPF_MAP_CREATE`'s checks for the redirect maps (`dev_map_alloc`,
    /// `cpu_map_alloc`, `xsk_map_alloc`).
    func validateRedirectMap() throws(MapError) {
        func bad(_ reason: String) -> MapError { .invalidDefinition(map: name, reason: reason) }
        guard keySize == 4 else { throw bad("\(type) keys are 4 bytes, not \(keySize)") }
        let allowed: MapFlags = type == .cpuMap ? [.numaNode] : [.numaNode, .readOnly, .writeOnly]
        guard flags.isSubset(of: allowed) else {
            throw bad("flags 0x\(String(flags.subtracting(allowed).rawValue, radix: 16)) are not allowed for \(type)")
        }
        switch type {
        case .deviceMap, .deviceMapHash:
            guard valueSize == 4 || valueSize == 8 else {
                throw bad("\(type) values are struct bpf_devmap_val: 4 bytes (ifindex) or 8 (ifindex, bpf_prog.fd), not \(valueSize)")
            }
        case .cpuMap:
            guard valueSize == 4 || valueSize == 8 else {
                throw bad("cpumap values are struct bpf_cpumap_val: 4 bytes (qsize) or 8 (qsize, bpf_prog.fd), not \(valueSize)")
            }
        default:
            guard valueSize == 4 else { throw bad("xskmap values are 4-byte socket descriptors, not \(valueSize)") }
        }
        guard maxEntries <= 1 << 20 else { throw bad("\(maxEntries) entries exceed BPFKit's limit of \(1 << 20) for \(type)") }
    }
}
