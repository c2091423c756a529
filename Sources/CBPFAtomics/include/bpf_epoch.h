// Runs in flight, for reclaiming memory a run may still be using (map
// elements, retired tail-call targets) the way the kernel's RCU does.
//
// Every thread that runs programs owns one `bpf_run_slot`. Entering the
// outermost run publishes the global epoch in the slot; leaving it publishes
// 0. Memory unlinked from every shared structure is stamped with
// `bpf_epoch_stamp()` and may be reused once `bpf_epoch_bound()` is above the
// stamp: every run that was in flight when it was unlinked has ended.
//
// The run side is a thread-local load, one load and one store on entry, one
// store on exit, with no atomic read-modify-write and (on Linux) no fence:
// the reclaiming side, which is rare, pays instead with an expedited
// membarrier(2) that orders every running thread (the asymmetric fence of
// liburcu's "memb" flavour). Where membarrier is unavailable the entry has a
// full fence.
#ifndef BPF_EPOCH_H
#define BPF_EPOCH_H

#include <stdint.h>

typedef struct bpf_run_slot {
    /// Epoch the outermost run entered at; 0 when the thread runs nothing.
    /// Written by the owner thread, read by reclaimers.
    uint64_t epoch;
    /// Nesting depth (a helper that runs another program). Owner thread only.
    uint64_t depth;
    /// Token of the outermost run in flight: unique in the process. Owner thread only.
    uint64_t run;
    /// Run-end work queued by helpers during the current run (count). Owner thread only.
    uint64_t pending;
    /// Registry: slots are never freed, only handed to a new thread after their owner ends.
    struct bpf_run_slot *next;
    uint64_t in_use;
    uint64_t index;
    uint64_t padding;
} bpf_run_slot;

// One load from the thread pointer on ELF platforms (Darwin has its own TLV model).
#if defined(__ELF__)
#define BPF_EPOCH_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define BPF_EPOCH_TLS __thread
#endif

/// The calling thread's slot, or NULL before its first run.
extern BPF_EPOCH_TLS bpf_run_slot *bpf_run_current_slot;
/// The global epoch (starts at 1; 0 in a slot means idle).
extern uint64_t bpf_epoch_global;
/// Whether reclaimers order runs with membarrier (then entry needs no fence).
extern int bpf_epoch_asymmetric;

/// Registers the calling thread (first run only).
bpf_run_slot *bpf_run_slot_register(void);

/// Enters a run on the calling thread; returns the slot for `bpf_run_exit`.
static inline bpf_run_slot *bpf_run_enter(void) {
    bpf_run_slot *slot = bpf_run_current_slot;
    if (__builtin_expect(slot == 0, 0)) slot = bpf_run_slot_register();
    if (slot->depth++ == 0) {
        slot->run += 1u << 20;
        __atomic_store_n(&slot->epoch, __atomic_load_n(&bpf_epoch_global, __ATOMIC_ACQUIRE), __ATOMIC_RELAXED);
        if (__builtin_expect(__atomic_load_n(&bpf_epoch_asymmetric, __ATOMIC_RELAXED), 1)) {
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
        } else {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        }
    }
    return slot;
}

/// Whether leaving now ends the outermost run with run-end work queued.
static inline int bpf_run_exit_has_work(const bpf_run_slot *slot) {
    return slot->depth == 1 && slot->pending != 0;
}

/// Leaves a run entered with `bpf_run_enter`.
static inline void bpf_run_exit(bpf_run_slot *slot) {
    if (--slot->depth == 0) __atomic_store_n(&slot->epoch, 0, __ATOMIC_RELEASE);
}

/// The token of the calling thread's outermost run in flight, or 0.
static inline uint64_t bpf_run_current(void) {
    bpf_run_slot *slot = bpf_run_current_slot;
    return slot && slot->depth ? slot->run : 0;
}

/// The calling thread's slot index, or -1 before its first run.
static inline int64_t bpf_run_slot_index(void) {
    bpf_run_slot *slot = bpf_run_current_slot;
    return slot ? (int64_t)slot->index : -1;
}

/// Notes run-end work queued for the current run (the caller keeps the work).
static inline void bpf_run_note_pending(void) {
    bpf_run_slot *slot = bpf_run_current_slot;
    if (slot && slot->depth) slot->pending += 1;
}

/// Clears the pending count (after the work ran).
static inline void bpf_run_clear_pending(bpf_run_slot *slot) { slot->pending = 0; }

/// The stamp for memory just unlinked (call after the unlinking stores).
static inline uint64_t bpf_epoch_stamp(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&bpf_epoch_global, __ATOMIC_SEQ_CST);
}

/// Advances the epoch and returns a bound B: memory stamped below B is used
/// by no run in flight (nor by any later one). Costs a membarrier and a scan
/// of the slots; call it only when something waits for reuse.
uint64_t bpf_epoch_bound(void);

/// The highest bound any `bpf_epoch_bound()` call returned so far: memory
/// stamped below it is free to reuse, at the cost of one load.
static inline uint64_t bpf_epoch_known_bound(void) {
    extern uint64_t bpf_epoch_last_bound;
    return __atomic_load_n(&bpf_epoch_last_bound, __ATOMIC_ACQUIRE);
}

/// Runs in flight on all threads now (tests, statistics).
uint64_t bpf_epoch_runs_in_flight(void);

#endif
