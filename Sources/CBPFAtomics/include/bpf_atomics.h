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

#endif
