/// The preallocated element pool and chained buckets behind every hash map.
///
/// Elements are indices into two slabs (keys, values) that never move. The
/// pool holds `maxEntries + reuseWindow` elements and its free list is FIFO:
/// an element freed by a delete, a replacing update or an LRU eviction goes
/// to the back and is handed out again only after `reuseWindow` other
/// elements have been allocated. That is BPFKit's stand-in for the kernel's
/// RCU grace period: a program still holding a pointer to a deleted value
/// reads stale but intact bytes for at least that long, and never memory
/// that is not a value. All methods must be called with `lock` held.
final class HashTable: @unchecked Sendable {
    let keySize: Int
    let maxEntries: Int
    let capacity: Int
    let reuseWindow: Int
    let slotsPerElement: Int
    let lock = Lock()

    let keys: Slab
    let values: Slab
    private var buckets: [Int32]
    private var chain: [Int32]
    private var hashes: [UInt64]
    private var freeRing: [Int32]
    private var freeHead = 0
    private var freeCount: Int
    private(set) var count = 0
    // Recency list for LRU maps: head is the most recently used element.
    private var newer: [Int32], older: [Int32]
    private var newest: Int32 = -1, oldest: Int32 = -1

    init(keySize: Int, valueSize: Int, valueStride: Int, maxEntries: Int, slotsPerElement: Int, writable: Bool) {
        self.keySize = keySize
        self.maxEntries = maxEntries
        reuseWindow = min(maxEntries, 1024)
        capacity = maxEntries + reuseWindow
        self.slotsPerElement = slotsPerElement
        keys = Slab(count: capacity, stride: keySize, usableSize: keySize, writable: false)
        values = Slab(count: capacity * slotsPerElement, stride: valueStride, usableSize: valueSize, writable: writable)
        var bucketCount = 1
        while bucketCount < maxEntries { bucketCount <<= 1 }
        buckets = Array(repeating: -1, count: bucketCount)
        chain = Array(repeating: -1, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        freeRing = (0..<capacity).map(Int32.init)
        freeCount = capacity
        newer = Array(repeating: -1, count: capacity)
        older = Array(repeating: -1, count: capacity)
    }

    private func bucket(_ hash: UInt64) -> Int { Int(hash & UInt64(buckets.count - 1)) }

    /// The element holding `key`, or -1.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int32 {
        var e = buckets[bucket(hash)]
        while e >= 0 {
            if hashes[Int(e)] == hash, keys.equals(Int(e), key) { return e }
            e = chain[Int(e)]
        }
        return -1
    }

    /// Takes the element at the front of the free FIFO and stores `key` in it.
    func allocate(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int32 {
        precondition(freeCount > 0, "hash pool exhausted: count is bounded by maxEntries")
        let e = freeRing[freeHead]
        freeHead = (freeHead + 1) % capacity
        freeCount -= 1
        keys.copyIn(key, to: Int(e))
        hashes[Int(e)] = hash
        return e
    }

    /// Links a new element at the head of its bucket (and of the recency list).
    func link(_ e: Int32) {
        let b = bucket(hashes[Int(e)])
        chain[Int(e)] = buckets[b]
        buckets[b] = e
        count += 1
        pushNewest(e)
    }

    /// Puts `new` where `old` is in its chain, then frees `old`.
    func replace(_ old: Int32, with new: Int32) {
        let b = bucket(hashes[Int(old)])
        chain[Int(new)] = chain[Int(old)]
        if buckets[b] == old {
            buckets[b] = new
        } else {
            var e = buckets[b]
            while chain[Int(e)] != old { e = chain[Int(e)] }
            chain[Int(e)] = new
        }
        unlinkRecency(old)
        pushNewest(new)
        release(old)
    }

    /// Removes `e` from its chain and frees it.
    func remove(_ e: Int32) {
        let b = bucket(hashes[Int(e)])
        if buckets[b] == e {
            buckets[b] = chain[Int(e)]
        } else {
            var p = buckets[b]
            while chain[Int(p)] != e { p = chain[Int(p)] }
            chain[Int(p)] = chain[Int(e)]
        }
        count -= 1
        unlinkRecency(e)
        release(e)
    }

    private func release(_ e: Int32) {
        freeRing[(freeHead + freeCount) % capacity] = e
        freeCount += 1
    }

    // MARK: Recency (LRU maps)

    /// Marks `e` most recently used.
    func touch(_ e: Int32) {
        guard newest != e else { return }
        unlinkRecency(e)
        pushNewest(e)
    }

    /// The least recently used element, or -1.
    var leastRecentlyUsed: Int32 { oldest }

    private func pushNewest(_ e: Int32) {
        older[Int(e)] = newest
        newer[Int(e)] = -1
        if newest >= 0 { newer[Int(newest)] = e } else { oldest = e }
        newest = e
    }

    private func unlinkRecency(_ e: Int32) {
        let n = newer[Int(e)], o = older[Int(e)]
        if n >= 0 { older[Int(n)] = o } else { newest = o }
        if o >= 0 { newer[Int(o)] = n } else { oldest = n }
        newer[Int(e)] = -1
        older[Int(e)] = -1
    }

    // MARK: Iteration

    /// Live elements in bucket order.
    var elements: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for head in buckets {
            var e = head
            while e >= 0 { out.append(e); e = chain[Int(e)] }
        }
        return out
    }

    /// Value slot index of element `e` for CPU slot `slot`.
    @inline(__always) func valueIndex(_ e: Int32, slot: Int = 0) -> Int { Int(e) * slotsPerElement + slot }
}
