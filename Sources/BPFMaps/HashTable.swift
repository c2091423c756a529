import BPFRuntime
import CBPFAtomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The preallocated element pool and chained buckets behind every hash map.
///
/// Elements are indices into two slabs (keys, values) that never move. The
/// pool holds `maxEntries + reuseWindow` elements and its free list is FIFO.
/// An element freed by a delete, a replacing update or an LRU eviction goes
/// to the back stamped with `RunLifetime.stamp()`, and is handed out again
/// only once every run that was in flight when it was freed has ended (the
/// kernel's RCU grace period, counted in runs, not in allocations): a
/// program still holding a pointer to a deleted value writes into memory no
/// other key owns until it ends. `reuseWindow` spare elements give freed
/// ones room to wait; when all of them wait for runs in flight,
/// `canAllocate()` is false and the map says so (see `HashMap`).
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
    /// Writers' lock (its word is `words[1]`).
    let lock: SpinLock

    let keys: Slab
    let values: Slab
    // The slabs' bytes, read directly on the program paths (no reference to a
    // slab object is touched there, so nothing is retained per lookup).
    private let keyBase: UnsafeMutableRawPointer
    private let valueBase: UInt64
    private let valueStride: Int
    private let bucketMask: Int
    private let buckets: UnsafeMutablePointer<Int32>
    private let chain: UnsafeMutablePointer<Int32>
    private let hashes: UnsafeMutablePointer<UInt64>
    private let freeRing: UnsafeMutablePointer<Int32>
    /// `RunLifetime` stamp of each free-ring position's element (0: never used).
    private let freeStamps: UnsafeMutablePointer<UInt64>
    // Recency list for LRU maps: head is the most recently used element.
    private let newer: UnsafeMutablePointer<Int32>, older: UnsafeMutablePointer<Int32>
    private let state: UnsafeMutablePointer<State>
    /// The sequence word (`words[0]`) and the lock word (`words[1]`), in a
    /// cache line of their own, apart from `state`: they are only ever read
    /// and written atomically, while `state` is written plainly under the
    /// lock. (In one struct, a plain assignment through `state.pointee` is
    /// an access to the struct as a whole for ThreadSanitizer, which then
    /// saw lookups' atomic loads of the sequence race with it.)
    private let words: UnsafeMutablePointer<UInt64>
    private let sequenceWord: UnsafeMutablePointer<UInt64>

    /// The scalars writers change under the lock.
    private struct State {
        var freeHead = 0
        var freeCount = 0
        var count = 0
        var newest: Int32 = -1, oldest: Int32 = -1
        /// Elements stamped below this may be reused (`RunLifetime.bound()`, cached).
        var bound: UInt64 = 1
    }

    init(keySize: Int, valueSize: Int, valueStride: Int, maxEntries: Int, slotsPerElement: Int, writable: Bool) {
        self.keySize = keySize
        self.maxEntries = maxEntries
        // Spares for freed elements to wait in: as many as the map holds up to
        // 1,024, and at least 64 for small maps while that stays under 8 MiB.
        let small = min(64, max(1, (8 << 20) / max(1, valueStride * slotsPerElement)))
        reuseWindow = min(1024, max(maxEntries, small))
        capacity = maxEntries + reuseWindow
        self.slotsPerElement = slotsPerElement
        keys = Slab(count: capacity, stride: keySize, usableSize: keySize, writable: false)
        values = Slab(count: capacity * slotsPerElement, stride: valueStride, usableSize: valueSize, writable: writable)
        keyBase = keys.base
        valueBase = values.start
        self.valueStride = valueStride
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
        freeStamps = make(capacity, 0)
        for i in 0..<capacity { freeRing[i] = Int32(i) }
        newer = make(capacity, -1)
        older = make(capacity, -1)
        state = make(1, State(freeCount: capacity))
        let words = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            .initializeMemory(as: UInt64.self, repeating: 0, count: 8)
        self.words = words
        sequenceWord = words
        lock = SpinLock(word: words + 1)
    }

    deinit {
        for p in [buckets, chain, freeRing, newer, older] { p.deallocate() }
        hashes.deallocate()
        freeStamps.deallocate()
        state.deallocate()
        words.deallocate()
    }

    /// Number of elements present.
    var count: Int { state.pointee.count }

    // MARK: Sequence lock

    /// Before a change (lock held): readers that overlap it will retry.
    @inline(__always) func beginWrite() {
        let word = sequenceWord
        bpf_store_relaxed64(word, bpf_load_relaxed64(word) &+ 1)
        bpf_fence_release()
    }

    /// After a change (lock held).
    @inline(__always) func endWrite() {
        let word = sequenceWord
        bpf_store_release64(word, bpf_load_relaxed64(word) &+ 1)
    }

    /// The element holding `key` at some instant during the call, or -1,
    /// without the lock (see the type's comment).
    @inline(__always)
    func lookup(_ key: UnsafeRawPointer, hash: UInt64) -> Int32 {
        let word = sequenceWord
        for _ in 0..<4 {
            let before = bpf_load_acquire64(word)
            if before & 1 != 0 { break }            // a writer is active: wait for it on the lock
            var e = bpf_load_relaxed32(buckets + bucket(hash))
            var steps = 0
            while e >= 0 && steps <= capacity {
                if bpf_load_relaxed64(hashes + Int(e)) == hash, keyMatches(e, key) { break }
                e = bpf_load_relaxed32(chain + Int(e))
                steps += 1
            }
            bpf_fence_acquire()
            if bpf_load_relaxed64(word) == before && steps <= capacity { return e }
        }
        return lockedFind(key, hash: hash)
    }

    @inline(never)
    private func lockedFind(_ key: UnsafeRawPointer, hash: UInt64) -> Int32 {
        lock.withLock { find(UnsafeRawBufferPointer(start: key, count: keySize), hash: hash) }
    }

    /// A program's lookup on a map with no recency to update: the address of
    /// the value of `keySize` bytes at `key` in CPU slot `slot`, or 0. One
    /// inlined path from hash to address (it is most of a helper call).
    @inline(__always)
    func programValue(_ key: UnsafeRawPointer, slot: Int) -> UInt64 {
        let e = lookup(key, hash: Slab.hash(UnsafeRawBufferPointer(start: key, count: keySize)))
        return e < 0 ? 0 : valueAddress(e, slot: slot)
    }

    private func bucket(_ hash: UInt64) -> Int { Int(hash & UInt64(bucketMask)) }

    /// Whether element `e` holds the `keySize` bytes at `key`: one compare
    /// for 4- and 8-byte keys (the common ones), memcmp otherwise.
    @inline(__always) private func keyMatches(_ e: Int32, _ key: UnsafeRawPointer) -> Bool {
        let stored = UnsafeRawPointer(keyBase + Int(e) * keySize)
        switch keySize {
        case 4: return stored.loadUnaligned(as: UInt32.self) == key.loadUnaligned(as: UInt32.self)
        case 8: return stored.loadUnaligned(as: UInt64.self) == key.loadUnaligned(as: UInt64.self)
        default: return memcmp(stored, key, keySize) == 0
        }
    }

    /// Host address of element `e`'s value in CPU slot `slot` (what lookups return).
    @inline(__always) func valueAddress(_ e: Int32, slot: Int = 0) -> UInt64 {
        valueBase + UInt64(valueIndex(e, slot: slot) * valueStride)
    }

    /// Writes one value of `count` bytes into element `e`'s CPU slot `slot`.
    @inline(__always) func storeValue(_ e: Int32, slot: Int = 0, from source: UnsafeRawPointer, count: Int) {
        Slab.copy(UnsafeMutableRawPointer(bitPattern: UInt(valueAddress(e, slot: slot)))!, from: source, count: count)
    }

    /// The element holding `key`, or -1.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int32 {
        var e = buckets[bucket(hash)]
        while e >= 0 {
            if hashes[Int(e)] == hash, let base = key.baseAddress, key.count == keySize, keyMatches(e, base) { return e }
            e = chain[Int(e)]
        }
        return -1
    }

    /// Whether the element at the front of the free FIFO may be reused now:
    /// no run in flight when it was freed is still running. Advances the
    /// cached bound (a membarrier and a scan) only when the front waits.
    func canAllocate() -> Bool {
        guard state.pointee.freeCount > 0 else { return false }
        let stamp = freeStamps[state.pointee.freeHead]
        if stamp < state.pointee.bound { return true }
        state.pointee.bound = max(state.pointee.bound, RunLifetime.knownBound)
        if stamp < state.pointee.bound { return true }
        state.pointee.bound = max(state.pointee.bound, RunLifetime.bound())
        return stamp < state.pointee.bound
    }

    /// The stamp the front of the free FIFO waits for (after `canAllocate()` said no).
    var frontStamp: UInt64 { freeStamps[state.pointee.freeHead] }

    /// Takes the element at the front of the free FIFO and stores `key` in it
    /// (only after `canAllocate()` said yes).
    func allocate(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int32 {
        precondition(state.pointee.freeCount > 0 && freeStamps[state.pointee.freeHead] < state.pointee.bound,
                     "hash pool: allocate without canAllocate")
        let e = freeRing[state.pointee.freeHead]
        state.pointee.freeHead = (state.pointee.freeHead + 1) % capacity
        state.pointee.freeCount -= 1
        if let source = key.baseAddress { Slab.copy(keyBase + Int(e) * keySize, from: source, count: min(key.count, keySize)) }
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

    /// Frees `e`, already unlinked: it waits for the runs in flight now.
    private func release(_ e: Int32) {
        let position = (state.pointee.freeHead + state.pointee.freeCount) % capacity
        freeRing[position] = e
        freeStamps[position] = RunLifetime.stamp()
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
