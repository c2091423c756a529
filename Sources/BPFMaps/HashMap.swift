import BPFRuntime

/// `BPF_MAP_TYPE_HASH`, `LRU_HASH`, `PERCPU_HASH` and `LRU_PERCPU_HASH`.
///
/// Semantics follow the kernel's preallocated hash maps: an update of an
/// existing key in a hash or LRU map builds a new element and swaps it into
/// the chain (a concurrent reader sees the old value or the new one, never a
/// mix), while per-CPU maps update the existing element in place. A full
/// hash map rejects new keys with E2BIG; a full LRU map evicts its least
/// recently used element (lookups and updates count as uses).
///
/// A freed element is reused only after every run in flight when it was
/// freed has ended (`HashTable`). If every spare element still waits, a
/// host update outside runs waits for those runs to end; a program's update
/// of a present key updates it in place, and of a new key fails with E2BIG.
public final class HashMap: BPFMap {
    public let definition: MapDefinition
    public let descriptor: Slab
    let table: HashTable
    private let isLRU: Bool
    private let slots: Int
    /// Whether programs may change elements (not `BPF_F_RDONLY_PROG`).
    private let programWritable: Bool

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        isLRU = definition.type == .lruHash || definition.type == .lruPerCPUHash
        slots = definition.type.isPerCPU ? CPUSlots.count : 1
        programWritable = !definition.flags.contains(.readOnlyProgram)
        table = HashTable(keySize: definition.keySize, valueSize: definition.valueSize, valueStride: definition.valueStride,
                          maxEntries: definition.maxEntries, slotsPerElement: slots,
                          writable: !definition.flags.contains(.readOnlyProgram))
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [table.values.region] }

    /// Number of elements present.
    public var count: Int { table.lock.withLock { table.count } }

    /// Spare elements beyond max_entries, where freed elements wait for the
    /// runs in flight when they were freed to end before they are reused.
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
        // A host update outside any run waits for spare elements; a run never
        // waits (it could be waiting for itself).
        let mayWait = !RunLifetime.inRun
        while true {
            let waitFor = try table.lock.withLock { () throws(MapError) -> UInt64? in
                table.beginWrite()
                defer { table.endWrite() }
                let old = table.find(key, hash: hash)
                if old >= 0, flags == .noExist { throw .keyExists }
                if old < 0, flags == .exist { throw .noSuchKey }
                if old >= 0, slots > 1 {
                    write(fill, into: old, fresh: false)
                    if isLRU { table.touch(old) }
                    return nil
                }
                if old < 0, table.count >= definition.maxEntries, !isLRU { throw .full }
                guard table.canAllocate() else {
                    // Every spare element was freed while a run still in flight
                    // was running, and may be in its hands.
                    if mayWait { return table.frontStamp }
                    guard old >= 0 else { throw .full }
                    // Update the present element in place (as per-CPU maps do):
                    // a concurrent reader may see a mix, never another key's value.
                    write(fill, into: old, fresh: false)
                    if isLRU { table.touch(old) }
                    return nil
                }
                if old < 0, table.count >= definition.maxEntries { table.remove(table.leastRecentlyUsed) }
                let e = table.allocate(key, hash: hash)
                write(fill, into: e, fresh: true)
                if old >= 0 { table.replace(old, with: e) } else { table.link(e) }
                return nil
            }
            guard let stamp = waitFor else { return }
            RunLifetime.wait(for: stamp)
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
        // Every program-side write path (helper bodies, native and proven
        // entries) comes here: the map's program-side flags are checked once.
        guard programWritable else { throw .readOnly(map: definition.name) }
        try upsert(key, .program(value), flags: UpdateFlags(raw: flags))
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        guard programWritable else { throw .readOnly(map: definition.name) }
        try removeElement(key)
    }

    private func removeElement(_ key: UnsafeRawBufferPointer) throws(MapError) {
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
        try withBytes(key) { k throws(MapError) in try removeElement(k) }
    }

    public func keys() -> [[UInt8]] {
        table.lock.withLock { table.elements.map { table.keys.copyOut(Int($0), count: definition.keySize) } }
    }
}
