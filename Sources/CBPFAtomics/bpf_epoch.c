#include "bpf_epoch.h"

#include <pthread.h>
#include <stdlib.h>
#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
// The commands are enum constants, not macros: test for the system call.
#if defined(__NR_membarrier)
#define BPF_EPOCH_MEMBARRIER 1
#endif
#endif

BPF_EPOCH_TLS bpf_run_slot *bpf_run_current_slot = 0;
uint64_t bpf_epoch_global = 1;
int bpf_epoch_asymmetric = 0;
uint64_t bpf_epoch_last_bound = 1;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static bpf_run_slot *registry_head = 0;
static uint64_t registry_count = 0;
static pthread_key_t slot_key;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void release_slot(void *raw) {
    bpf_run_slot *slot = raw;
    __atomic_store_n(&slot->epoch, 0, __ATOMIC_RELEASE);
    slot->depth = 0;
    slot->pending = 0;
    __atomic_store_n(&slot->in_use, 0, __ATOMIC_RELEASE);
}

static void setup(void) {
    pthread_key_create(&slot_key, release_slot);
#if defined(BPF_EPOCH_MEMBARRIER)
    long commands = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (commands > 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED)
        && syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
        __atomic_store_n(&bpf_epoch_asymmetric, 1, __ATOMIC_SEQ_CST);
    }
#endif
}

bpf_run_slot *bpf_run_slot_register(void) {
    pthread_once(&setup_once, setup);
    pthread_mutex_lock(&registry_lock);
    bpf_run_slot *slot = registry_head;
    while (slot && __atomic_load_n(&slot->in_use, __ATOMIC_ACQUIRE)) slot = slot->next;
    if (!slot) {
        slot = aligned_alloc(64, sizeof(bpf_run_slot) < 64 ? 64 : sizeof(bpf_run_slot));
        if (!slot) abort();
        *slot = (bpf_run_slot){0};
        slot->index = registry_count++;
        slot->run = slot->index;
        slot->next = registry_head;
        __atomic_store_n(&registry_head, slot, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&slot->in_use, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&registry_lock);
    pthread_setspecific(slot_key, slot);
    bpf_run_current_slot = slot;
    return slot;
}

/// Orders every running thread's earlier memory operations before ours.
static void order_all_threads(void) {
#if defined(BPF_EPOCH_MEMBARRIER)
    if (__atomic_load_n(&bpf_epoch_asymmetric, __ATOMIC_ACQUIRE)) {
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
        return;
    }
#endif
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint64_t bpf_epoch_bound(void) {
    pthread_once(&setup_once, setup);
    // Runs entering from now on read at least `bound`: nothing stamped below it is theirs.
    uint64_t bound = __atomic_add_fetch(&bpf_epoch_global, 1, __ATOMIC_SEQ_CST);
    order_all_threads();
    for (bpf_run_slot *slot = __atomic_load_n(&registry_head, __ATOMIC_ACQUIRE); slot; slot = slot->next) {
        uint64_t epoch = __atomic_load_n(&slot->epoch, __ATOMIC_ACQUIRE);
        if (epoch != 0 && epoch < bound) bound = epoch;
    }
    uint64_t known = __atomic_load_n(&bpf_epoch_last_bound, __ATOMIC_RELAXED);
    while (known < bound
           && !__atomic_compare_exchange_n(&bpf_epoch_last_bound, &known, bound, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {}
    return bound > known ? bound : known;
}

uint64_t bpf_epoch_runs_in_flight(void) {
    order_all_threads();
    uint64_t count = 0;
    for (bpf_run_slot *slot = __atomic_load_n(&registry_head, __ATOMIC_ACQUIRE); slot; slot = slot->next) {
        if (__atomic_load_n(&slot->epoch, __ATOMIC_ACQUIRE) != 0) count += 1;
    }
    return count;
}
