#define _GNU_SOURCE
#include "CBPFPlatform.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int bpf_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

int bpf_add_seals(int fd, int seals) {
    return fcntl(fd, BPF_F_ADD_SEALS, seals);
}

void bpf_clear_instruction_cache(void *begin, void *end) {
#if defined(__aarch64__) || defined(__arm__) || defined(__riscv)
    __builtin___clear_cache((char *)begin, (char *)end);
#else
    (void)begin;
    (void)end;
#endif
}

int bpf_instruction_cache_needs_maintenance(void) {
#if defined(__aarch64__) || defined(__arm__) || defined(__riscv)
    return 1;
#else
    return 0;
#endif
}

uint64_t bpf_atomic_load_u64(const uint64_t *address) {
    return __atomic_load_n(address, __ATOMIC_SEQ_CST);
}

void bpf_atomic_store_u64(uint64_t *address, uint64_t value) {
    __atomic_store_n(address, value, __ATOMIC_SEQ_CST);
}
