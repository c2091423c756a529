import CBPFAtomics

/// The preallocated element pool and chained buckets behind every hash map.
///
/// Elements are indices into two slabs (keys, values) that never move. The
/// pool holds `maxEntries + reuseWindow` elements and its free list is FIFO:
/// an element freed by a delete, a replacing update or an LRU eviction goes
/// to the back and is handed out again only after `reuseWindow` other
/// elements have been allocated. That is BPFKit's stand-in for the kernel's
/// RCU grace period: a program still holding a pointer to a deleted value
/// reads stale but intact bytes for at least that long, and never memory
/// that is not a value.
///
/// Writers hold `lock` and bracket every change with `beginWrite` and
/// `endWrite`, which make the sequence word odd, then even again (a
/// sequence lock). `lookup` reads without the lock, as the kernel's RCU
/// readers do: it walks the bucket and retries if the sequence moved or was
/// odd meanwhile, so it only ever returns an element that held the key at
/// one instant. Every other method must be called with `lock` held.
///
/// The tables live in raw memory allocated once (never moved or freed while
/// the table lives), so a reader racing with a writer reads stale indices,
/// never freed memory, and the hot paths pay no reference counting or
/// exclusivity checks.
final class HashTable: @unchecked Sendable {
    let keySize: Int
    let maxEntries: Int
    let capacity: Int
    let reuseWindow: Int
    let slotsPerElement: Int
    let lock = Lock()

    let keys: Slab
    let values: Slab
    private let bucketMask: Int
    private let buckets: UnsafeMutablePointer<Int32>
    private let chain: UnsafeMutablePointer<Int32>
    private let hashes: UnsafeMutablePointer<UInt64>
    private let freeRing: UnsafeMutablePointer<Int32>
    // Recency list for LRU maps: head is the most recently used element.
    private let newer: UnsafeMutablePointer<Int32>, older: UnsafeMutablePointer<Int32>
    private let state: UnsafeMutablePointer<State>

    /// The scalars writers change (under the lock) and the sequence word.
    private struct State {
        var sequence: UInt64 = 0
        var freeHead = 0
        var freeCount = 0
        var count = 0
        var newest: Int32 = -1, oldest: Int32 = -1
    }

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
        bucketMask = bucketCount - 1
        func make<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: count)
            p.initialize(repeating: value, count: count)
            return p
        }
        buckets = make(bucketCount, -1)
        chain = make(capacity, -1)
        hashes = make(capacity, 0)
        freeRing = make(capacity, 0)
        for i in 0..<capacity { freeRing[i] = Int32(i) }
        newer = make(capacity, -1)
        older = make(capacity, -1)
        state = make(1, State(freeCount: capacity))
    }

    deinit {
        for p in [buckets, chain, freeRing, newer, older] { p.deallocate() }
        hashes.deallocate()
        state.deallocate()
    }

    /// Number of elements present.
    var count: Int { state.pointee.count }

    // MARK: Sequence lock

    private var sequenceWord: UnsafeMutablePointer<UInt64> {
        (UnsafeMutableRawPointer(state) + MemoryLayout<State>.offset(of: \.sequence)!).assumingMemoryBound(to: UInt64.self)
    }

    /// Before a change (lock held): readers that overlap it will retry.
    @inline(__always) func beginWrite() {
        let word = sequenceWord
        bpf_store_relaxed64(word, word.pointee &+ 1)
        bpf_fence_release()
    }

    /// After a change (lock held).
    @inline(__always) func endWrite() {
        let word = sequenceWord
        bpf_store_release64(word, word.pointee &+ 1)
    }

    /// The element holding `key` at some instant during the call, or -1,
    /// without the lock (see the type's comment).
    func lookup(_ key: UnsafeRawPointer, hash: UInt64) -> Int32 {
        let word = sequenceWord
        for _ in 0..<4 {
            let before = bpf_load_acquire64(word)
            if before & 1 != 0 { break }            // a writer is active: wait for it on the lock
            var e = bpf_load_relaxed32(buckets + bucket(hash))
            var steps = 0
            while e >= 0 && steps <= capacity {
                if bpf_load_relaxed64(hashes + Int(e)) == hash, keys.equals(Int(e), key, count: keySize) { break }
                e = bpf_load_relaxed32(chain + Int(e))
                steps += 1
            }
            bpf_fence_acquire()
            if bpf_load_relaxed64(word) == before && steps <= capacity { return e }
        }
        return lock.withLock { find(UnsafeRawBufferPointer(start: key, count: keySize), hash: hash) }
    }

    private func bucket(_ hash: UInt64) -> Int { Int(hash & UInt64(bucketMask)) }

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
        precondition(state.pointee.freeCount > 0, "hash pool exhausted: count is bounded by maxEntries")
        let e = freeRing[state.pointee.freeHead]
        state.pointee.freeHead = (state.pointee.freeHead + 1) % capacity
        state.pointee.freeCount -= 1
        keys.copyIn(key, to: Int(e))
        bpf_store_relaxed64(hashes + Int(e), hash)
        return e
    }

    /// Links a new element at the head of its bucket (and of the recency list).
    func link(_ e: Int32) {
        let b = bucket(hashes[Int(e)])
        bpf_store_relaxed32(chain + Int(e), buckets[b])
        bpf_store_relaxed32(buckets + b, e)
        state.pointee.count += 1
        pushNewest(e)
    }

    /// Puts `new` where `old` is in its chain, then frees `old`.
    func replace(_ old: Int32, with new: Int32) {
        let b = bucket(hashes[Int(old)])
        bpf_store_relaxed32(chain + Int(new), chain[Int(old)])
        if buckets[b] == old {
            bpf_store_relaxed32(buckets + b, new)
        } else {
            var e = buckets[b]
            while chain[Int(e)] != old { e = chain[Int(e)] }
            bpf_store_relaxed32(chain + Int(e), new)
        }
        unlinkRecency(old)
        pushNewest(new)
        release(old)
    }

    /// Removes `e` from its chain and frees it.
    func remove(_ e: Int32) {
        let b = bucket(hashes[Int(e)])
        if buckets[b] == e {
            bpf_store_relaxed32(buckets + b, chain[Int(e)])
        } else {
            var p = buckets[b]
            while chain[Int(p)] != e { p = chain[Int(p)] }
            bpf_store_relaxed32(chain + Int(p), chain[Int(e)])
        }
        state.pointee.count -= 1
        unlinkRecency(e)
        release(e)
    }

    private func release(_ e: Int32) {
        freeRing[(state.pointee.freeHead + state.pointee.freeCount) % capacity] = e
        state.pointee.freeCount += 1
    }

    // MARK: Recency (LRU maps)

    /// Marks `e` most recently used.
    func touch(_ e: Int32) {
        guard state.pointee.newest != e else { return }
        unlinkRecency(e)
        pushNewest(e)
    }

    /// The least recently used element, or -1.
    var leastRecentlyUsed: Int32 { state.pointee.oldest }

    private func pushNewest(_ e: Int32) {
        let newest = state.pointee.newest
        older[Int(e)] = newest
        newer[Int(e)] = -1
        if newest >= 0 { newer[Int(newest)] = e } else { state.pointee.oldest = e }
        state.pointee.newest = e
    }

    private func unlinkRecency(_ e: Int32) {
        let n = newer[Int(e)], o = older[Int(e)]
        if n >= 0 { older[Int(n)] = o } else { state.pointee.newest = o }
        if o >= 0 { newer[Int(o)] = n } else { state.pointee.oldest = n }
        newer[Int(e)] = -1
        older[Int(e)] = -1
    }

    // MARK: Iteration

    /// Live elements in bucket order.
    var elements: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for b in 0...bucketMask {
            var e = buckets[b]
            while e >= 0 { out.append(e); e = chain[Int(e)] }
        }
        return out
    }

    /// Value slot index of element `e` for CPU slot `slot`.
    @inline(__always) func valueIndex(_ e: Int32, slot: Int = 0) -> Int { Int(e) * slotsPerElement + slot }
}
