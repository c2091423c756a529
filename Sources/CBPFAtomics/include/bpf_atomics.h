// Sequentially consistent read-modify-write operations on host memory for the
// eBPF ATOMIC instructions (RFC 9669, section 5.3).
//
// Swift's Synchronization module needs typed, owned storage (`Atomic<T>`),
// but eBPF atomics act on arbitrary program addresses, so the interpreter
// reaches the compiler's `__atomic` builtins through these inline functions.
// Callers must pass naturally aligned pointers: the interpreter checks
// alignment before calling, as the kernel's verifier does.
#ifndef BPF_ATOMICS_H
#define BPF_ATOMICS_H

#include <stdint.h>

/// `*p += v`; returns the old value.
static inline uint64_t bpf_atomic_fetch_add64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
/// `*p |= v`; returns the old value.
static inline uint64_t bpf_atomic_fetch_or64(uint64_t *p, uint64_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
/// `*p &= v`; returns the old value.
static inline uint64_t bpf_atomic_fetch_and64(uint64_t *p, uint64_t v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
/// `*p ^= v`; returns the old value.
static inline uint64_t bpf_atomic_fetch_xor64(uint64_t *p, uint64_t v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }
/// `*p = v`; returns the old value.
static inline uint64_t bpf_atomic_exchange64(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
/// If `*p == expected` then `*p = desired`; returns the old value either way.
static inline uint64_t bpf_atomic_compare_exchange64(uint64_t *p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

/// `*p += v`; returns the old value.
static inline uint32_t bpf_atomic_fetch_add32(uint32_t *p, uint32_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
/// `*p |= v`; returns the old value.
static inline uint32_t bpf_atomic_fetch_or32(uint32_t *p, uint32_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
/// `*p &= v`; returns the old value.
static inline uint32_t bpf_atomic_fetch_and32(uint32_t *p, uint32_t v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
/// `*p ^= v`; returns the old value.
static inline uint32_t bpf_atomic_fetch_xor32(uint32_t *p, uint32_t v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }
/// `*p = v`; returns the old value.
static inline uint32_t bpf_atomic_exchange32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
/// If `*p == expected` then `*p = desired`; returns the old value either way.
static inline uint32_t bpf_atomic_compare_exchange32(uint32_t *p, uint32_t expected, uint32_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

// Orderings for the hash maps' sequence lock (BPFMaps.HashTable): readers
// walk a bucket without the map's mutex and retry if a writer was active.
// Every word a reader follows is read and written through these.

/// Load with acquire ordering.
static inline uint64_t bpf_load_acquire64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
/// Store with release ordering.
static inline void bpf_store_release64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/// Relaxed load and store of 32- and 64-bit words.
static inline uint64_t bpf_load_relaxed64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void bpf_store_relaxed64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline int32_t bpf_load_relaxed32(const int32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void bpf_store_relaxed32(int32_t *p, int32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
/// Fences.
static inline void bpf_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
static inline void bpf_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }

#endif
