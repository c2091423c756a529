import BPFISA

/// `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `HASH_OF_MAPS`: each element is an inner
/// map that fits the outer map's template (`MapDefinition.innerTemplate`,
/// the kernel's `bpf_map_meta_equal`).
///
/// A program's `bpf_map_lookup_elem` on the outer map returns the inner
/// map's handle (its descriptor address, what a map load gives), or 0; the
/// program then passes it to the map helpers like any map. Inner maps must be
/// maps of the program's object, so that the helpers and the engines'
/// memory checks know them; the host sets them with `set(_:at:)` (libbpf
/// fills the object's statically initialised slots the same way). Programs
/// cannot update or delete elements; host lookups return the inner map's id
/// (4 bytes, `MapOfMaps.id(of:)`), as the kernel returns map ids.
public final class MapOfMaps: BPFMap, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    private let lock = Lock()
    private var elements: [[UInt8]: any BPFMap] = [:]

    /// The byte order of the machine whose programs use the map: an
    /// array_of_maps index is a `u32` in that order.
    public let indexOrder: ByteOrder

    init(validated definition: MapDefinition, indexOrder: ByteOrder = .host) {
        self.definition = definition
        self.indexOrder = indexOrder
        descriptor = MapDescriptor.make(definition)
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [] }

    private func checkIndex(_ key: [UInt8]) throws(MapError) {
        let raw = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        if definition.type == .arrayOfMaps, Int(indexOrder == .host ? raw : raw.byteSwapped) >= definition.maxEntries {
            throw .full
        }
    }

    /// Puts `inner` at `key` (after checking it fits the template).
    public func set(_ inner: any BPFMap, at key: [UInt8], flags: UpdateFlags = .any) throws(MapError) {
        try checkKey(key)
        try checkIndex(key)
        if let mismatch = definition.innerMismatch(inner.definition) {
            throw .invalidArgument("inner map for '\(definition.name)': \(mismatch)")
        }
        try lock.withLock { () throws(MapError) in
            let present = elements[key] != nil
            if flags == .noExist && (present || definition.type == .arrayOfMaps) { throw .keyExists }
            if flags == .exist && !present && definition.type == .hashOfMaps { throw .noSuchKey }
            if !present && definition.type == .hashOfMaps && elements.count >= definition.maxEntries { throw .full }
            elements[key] = inner
        }
    }

    /// The inner map at `key`, if any.
    public func inner(at key: [UInt8]) -> (any BPFMap)? { lock.withLock { elements[key] } }

    // MARK: Program side

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 {
        let bytes = Array(key.prefix(definition.keySize))
        return lock.withLock { elements[bytes]?.handle ?? 0 }
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
        guard let inner = inner(at: key) else { throw .noSuchKey }
        return withUnsafeBytes(of: Self.id(of: inner).littleEndian) { Array($0) }
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        throw .unsupported("set inner maps of '\(definition.name)' with MapOfMaps.set(_:at:) (the kernel takes a map descriptor)")
    }

    public func delete(key: [UInt8]) throws(MapError) {
        try checkKey(key)
        try checkIndex(key)
        try lock.withLock { () throws(MapError) in
            guard elements.removeValue(forKey: key) != nil else {
                if definition.type == .hashOfMaps { throw .noSuchKey }
                return
            }
        }
    }

    public func keys() -> [[UInt8]] {
        lock.withLock { elements.keys.sorted { $0.lexicographicallyPrecedes($1) } }
    }

    // MARK: Map ids

    private final class IDs: @unchecked Sendable {
        let lock = Lock()
        var next: UInt32 = 1
        var ids: [ObjectIdentifier: UInt32] = [:]
    }
    private static let ids = IDs()

    /// A process-wide id for `map` (as the kernel's map ids), given on first use.
    public static func id(of map: any BPFMap) -> UInt32 {
        ids.lock.withLock {
            let key = ObjectIdentifier(map)
            if let id = ids.ids[key] { return id }
            defer { ids.next += 1 }
            ids.ids[key] = ids.next
            return ids.next
        }
    }
}
