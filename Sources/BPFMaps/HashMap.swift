/// `BPF_MAP_TYPE_HASH`, `LRU_HASH`, `PERCPU_HASH` and `LRU_PERCPU_HASH`.
///
/// Semantics follow the kernel's preallocated hash maps: an update of an
/// existing key in a hash or LRU map builds a new element and swaps it into
/// the chain (a concurrent reader sees the old value or the new one, never a
/// mix), while per-CPU maps update the existing element in place. A full
/// hash map rejects new keys with E2BIG; a full LRU map evicts its least
/// recently used element (lookups and updates count as uses).
public final class HashMap: BPFMap {
    public let definition: MapDefinition
    public let descriptor: Slab
    let table: HashTable
    private let isLRU: Bool
    private let slots: Int

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        isLRU = definition.type == .lruHash || definition.type == .lruPerCPUHash
        slots = definition.type.isPerCPU ? CPUSlots.count : 1
        table = HashTable(keySize: definition.keySize, valueSize: definition.valueSize, valueStride: definition.valueStride,
                          maxEntries: definition.maxEntries, slotsPerElement: slots,
                          writable: !definition.flags.contains(.readOnlyProgram))
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [table.values.region] }

    /// Number of elements present.
    public var count: Int { table.lock.withLock { table.count } }

    /// How many allocations a freed element waits before it is reused.
    public var reuseWindow: Int { table.reuseWindow }

    // MARK: Shared update logic

    /// How a new or updated element receives its value.
    private enum Fill {
        /// One value, for a whole element or this CPU slot's part.
        case program(UnsafeRawBufferPointer)
        /// Host bytes: one value, or every slot's for per-CPU maps.
        case host([UInt8])
    }

    private func write(_ fill: Fill, into e: Int32, fresh: Bool) {
        let size = definition.valueSize
        switch fill {
        case .program(let value):
            guard let source = value.baseAddress else { return }
            let count = min(value.count, size)
            if slots == 1 { table.storeValue(e, from: source, count: count); return }
            if fresh { for s in 0..<slots { table.values.zero(table.valueIndex(e, slot: s)) } }
            table.storeValue(e, slot: CPUSlots.current, from: source, count: count)
        case .host(let bytes):
            let values = table.values
            if slots == 1 { values.copyIn(bytes, to: table.valueIndex(e)); return }
            let stride = definition.valueStride
            for s in 0..<slots {
                values.zero(table.valueIndex(e, slot: s))
                values.copyIn(Array(bytes[s * stride..<s * stride + size]), to: table.valueIndex(e, slot: s))
            }
        }
    }

    private func upsert(_ key: UnsafeRawBufferPointer, _ fill: Fill, flags: UpdateFlags) throws(MapError) {
        let hash = Slab.hash(key)
        try table.lock.withLock { () throws(MapError) in
            table.beginWrite()
            defer { table.endWrite() }
            let old = table.find(key, hash: hash)
            if old >= 0, flags == .noExist { throw .keyExists }
            if old < 0, flags == .exist { throw .noSuchKey }
            if old >= 0, slots > 1 {
                write(fill, into: old, fresh: false)
                if isLRU { table.touch(old) }
                return
            }
            if old < 0, table.count >= definition.maxEntries {
                guard isLRU else { throw .full }
                table.remove(table.leastRecentlyUsed)
            }
            let e = table.allocate(key, hash: hash)
            write(fill, into: e, fresh: true)
            if old >= 0 { table.replace(old, with: e) } else { table.link(e) }
        }
    }

    private func find(_ key: UnsafeRawBufferPointer, touching: Bool) -> Int32 {
        let e = table.find(key, hash: Slab.hash(key))
        if e >= 0, touching, isLRU { table.touch(e) }
        return e
    }

    // MARK: Program side

    @inline(__always)
    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 {
        if !isLRU, let base = key.baseAddress, key.count == definition.keySize {
            // No recency to update: the lock-free read side.
            return table.programValue(base, slot: slots == 1 ? 0 : CPUSlots.current)
        }
        return table.lock.withLock {
            let e = find(key, touching: true)
            guard e >= 0 else { return 0 }
            return table.valueAddress(e, slot: slots == 1 ? 0 : CPUSlots.current)
        }
    }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        try upsert(key, .program(value), flags: UpdateFlags(raw: flags))
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        try table.lock.withLock { () throws(MapError) in
            let e = find(key, touching: false)
            guard e >= 0 else { throw .noSuchKey }
            table.beginWrite()
            table.remove(e)
            table.endWrite()
        }
    }

    // MARK: Host side

    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] {
        try checkKey(key)
        return try withBytes(key) { k throws(MapError) in
            try table.lock.withLock { () throws(MapError) -> [UInt8] in
                let e = find(k, touching: false)
                guard e >= 0 else { throw .noSuchKey }
                if slots == 1 { return table.values.copyOut(table.valueIndex(e), count: definition.valueSize) }
                var out: [UInt8] = []
                for s in 0..<slots { out += table.values.copyOut(table.valueIndex(e, slot: s), count: definition.valueStride) }
                return out
            }
        }
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        try checkKey(key)
        try checkValue(value)
        try withBytes(key) { k throws(MapError) in try upsert(k, .host(value), flags: flags) }
    }

    public func delete(key: [UInt8]) throws(MapError) {
        try checkKey(key)
        try withBytes(key) { k throws(MapError) in try programDelete(key: k) }
    }

    public func keys() -> [[UInt8]] {
        table.lock.withLock { table.elements.map { table.keys.copyOut(Int($0), count: definition.keySize) } }
    }
}
