import BPFISA

/// The maps of one object laid out for native helper entries
/// (`NativeHelper`): a fixed array of `NativeMapTable.Entry` in raw memory,
/// found by handle with a short scan, and map operations that go straight to
/// the concrete map type, with no existential dispatch or reference counting.
///
/// A handle a program passes is any 64-bit value, so it is only ever
/// compared with the table's handles, never dereferenced. The table keeps its
/// maps alive; its address (`address`) is the native entries' data word.
public final class NativeMapTable: @unchecked Sendable {
    /// How native entries handle a map.
    public enum Kind: UInt32, Sendable {
        /// Array and per-CPU array: lookups are arithmetic.
        case array
        /// Hash, LRU hash and their per-CPU forms: the map's own program operations.
        case hash
        /// Anything else (program arrays, ring buffers): the full helper path.
        case other
    }

    /// One map. For arrays, the value of element `i` in CPU slot `s` is at
    /// `values + (i * slots + s) * stride`.
    public struct Entry {
        public var handle: UInt64
        public var kind: Kind
        public var keySize: Int
        public var valueSize: Int
        public var values: UInt64
        public var stride: Int
        public var maxEntries: Int
        public var slots: Int
        /// The map object, unretained (the table holds it).
        var object: UnsafeRawPointer
    }

    /// The header the data word points at.
    struct Header {
        var count: Int
        var entries: UnsafeMutablePointer<Entry>
    }

    private let maps: [any BPFMap]
    private let header: UnsafeMutablePointer<Header>

    public init(_ table: MapTable) {
        maps = table.maps
        let entries = UnsafeMutablePointer<Entry>.allocate(capacity: max(maps.count, 1))
        for (i, map) in maps.enumerated() {
            let definition = map.definition
            var entry = Entry(handle: map.handle, kind: .other, keySize: definition.keySize, valueSize: definition.valueSize,
                              values: 0, stride: 0, maxEntries: definition.maxEntries, slots: 1,
                              object: UnsafeRawPointer(Unmanaged.passUnretained(map as AnyObject).toOpaque()))
            // An array indexed in the other byte order takes the full path (its lookups swap the key).
            if let array = map as? ArrayMap, array.indexOrder == .host {
                entry.kind = .array
                entry.values = array.values.start
                entry.stride = array.values.stride
                entry.slots = array.slots
            } else if map is HashMap {
                entry.kind = .hash
            }
            (entries + i).initialize(to: entry)
        }
        header = .allocate(capacity: 1)
        header.initialize(to: Header(count: maps.count, entries: entries))
    }

    deinit {
        header.pointee.entries.deinitialize(count: header.pointee.count)
        header.pointee.entries.deallocate()
        header.deallocate()
    }

    /// The data word native entries receive.
    public var address: UnsafeRawPointer { UnsafeRawPointer(header) }

    /// The entry of the map whose handle is `handle`, in the table at `data`.
    @inline(__always)
    public static func entry(_ data: UnsafeRawPointer?, handle: UInt64) -> UnsafePointer<Entry>? {
        guard let data else { return nil }
        let header = data.assumingMemoryBound(to: Header.self)
        let entries = header.pointee.entries
        for i in 0..<header.pointee.count where entries[i].handle == handle { return UnsafePointer(entries + i) }
        return nil
    }

    /// `bpf_map_lookup_elem` on an array or hash map: the value's address or 0;
    /// nil for other maps (the caller takes the full path). `key` holds `keySize` readable bytes.
    @inline(__always)
    public static func lookup(_ entry: UnsafePointer<Entry>, key: UnsafeRawPointer) -> UInt64? {
        switch entry.pointee.kind {
        case .array:
            let index = Int(key.loadUnaligned(as: UInt32.self))
            guard index < entry.pointee.maxEntries else { return 0 }
            let slots = entry.pointee.slots
            let slot = slots == 1 ? 0 : CPUSlots.current
            return entry.pointee.values + UInt64((index * slots + slot) * entry.pointee.stride)
        case .hash:
            let key = UnsafeRawBufferPointer(start: key, count: entry.pointee.keySize)
            return Unmanaged<HashMap>.fromOpaque(entry.pointee.object)._withUnsafeGuaranteedRef { $0.programLookup(key: key) }
        case .other:
            return nil
        }
    }

    /// `bpf_map_update_elem` on an array or hash map; false for other maps
    /// (the caller takes the full path). `key` and `value` hold `keySize` and `valueSize` readable bytes.
    @inline(__always)
    public static func update(_ entry: UnsafePointer<Entry>, key: UnsafeRawPointer, value: UnsafeRawPointer,
                              flags: UInt64) throws(MapError) -> Bool {
        let key = UnsafeRawBufferPointer(start: key, count: entry.pointee.keySize)
        let value = UnsafeRawBufferPointer(start: value, count: entry.pointee.valueSize)
        switch entry.pointee.kind {
        case .array:
            try check(Unmanaged<ArrayMap>.fromOpaque(entry.pointee.object)._withUnsafeGuaranteedRef { map in
                failure { () throws(MapError) in try map.programUpdate(key: key, value: value, flags: flags) }
            })
        case .hash:
            try check(Unmanaged<HashMap>.fromOpaque(entry.pointee.object)._withUnsafeGuaranteedRef { map in
                failure { () throws(MapError) in try map.programUpdate(key: key, value: value, flags: flags) }
            })
        case .other:
            return false
        }
        return true
    }

    /// `bpf_map_delete_elem` on a hash map; false for other maps (the caller
    /// takes the full path, which also words the array's refusal).
    @inline(__always)
    public static func delete(_ entry: UnsafePointer<Entry>, key: UnsafeRawPointer) throws(MapError) -> Bool {
        guard entry.pointee.kind == .hash else { return false }
        let key = UnsafeRawBufferPointer(start: key, count: entry.pointee.keySize)
        try check(Unmanaged<HashMap>.fromOpaque(entry.pointee.object)._withUnsafeGuaranteedRef { map in
            failure { () throws(MapError) in try map.programDelete(key: key) }
        })
        return true
    }

    /// The error `body` threw, if any.
    @inline(__always)
    private static func failure(_ body: () throws(MapError) -> Void) -> MapError? {
        do { try body(); return nil } catch { return error }
    }

    @inline(__always)
    private static func check(_ error: MapError?) throws(MapError) {
        if let error { throw error }
    }
}
