#define _GNU_SOURCE
#include "CBPFPlatform.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

int bpf_random_bytes(void *buffer, size_t count) {
    // Requests of up to 256 bytes are never cut short once the pool is
    // initialised (random(7)); retry only on a signal.
    long result;
    do {
        result = syscall(SYS_getrandom, buffer, count, 0);
    } while (result < 0 && errno == EINTR);
    return result == (long)count ? 0 : -1;
}

uint64_t bpf_atomic_load_u64(const uint64_t *address) {
    return __atomic_load_n(address, __ATOMIC_SEQ_CST);
}

void bpf_atomic_store_u64(uint64_t *address, uint64_t value) {
    __atomic_store_n(address, value, __ATOMIC_SEQ_CST);
}

uintptr_t bpf_host_code_anchor(void) {
    return (uintptr_t)&bpf_host_code_anchor;
}

int bpf_x86_has_bmi2(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx >> 8) & 1;
#else
    return 0;
#endif
}
