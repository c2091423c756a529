// CBPFPlatform: the few Linux facilities Swift cannot reach directly.
//
// Kept deliberately tiny. Everything here is a thin, documented wrapper; the
// policy (what to map, with which protection, when) lives in Swift, in
// BPFExecMemory's platform layer.
#ifndef CBPFPLATFORM_H
#define CBPFPLATFORM_H

#include <stddef.h>
#include <stdint.h>

// memfd_create(2) flags. Defined here because older libc headers lack
// MFD_EXEC (Linux 6.3) and Swift's Glibc module does not export the rest.
#define BPF_MFD_CLOEXEC        0x0001U
#define BPF_MFD_ALLOW_SEALING  0x0002U
#define BPF_MFD_HUGETLB        0x0004U
// Ask explicitly for an executable memfd: required when the
// vm.memfd_noexec sysctl defaults new memfds to non-executable.
#define BPF_MFD_EXEC           0x0010U

// fcntl(2) sealing: once sized, a chunk's file can neither shrink (which
// would turn executable pages into SIGBUS) nor grow.
#define BPF_F_ADD_SEALS        1033
#define BPF_F_SEAL_SHRINK      0x0002
#define BPF_F_SEAL_GROW        0x0004

// madvise(2) advice and mmap(2) flags that Glibc's module may hide.
#define BPF_MADV_HUGEPAGE      14
#define BPF_MAP_NORESERVE      0x04000
#define BPF_MAP_FIXED_NOREPLACE 0x100000

/// An address inside the host program's own code (this function's), which
/// is linked into the same image as BPFKit's helpers and host routines: the
/// program pack maps its code near it, so that JITed code reaches them with
/// a direct `call rel32` (x86-64, ±2 GiB) or `bl` (arm64, ±128 MiB).
uintptr_t bpf_host_code_anchor(void);

/// memfd_create(2) through the raw system call, so that no particular libc
/// version is needed. Returns the descriptor or -1 with errno set.
int bpf_memfd_create(const char *name, unsigned int flags);

/// fcntl(fd, F_ADD_SEALS, seals); returns 0 or -1 with errno set.
int bpf_add_seals(int fd, int seals);

/// Makes [begin, end) coherent between data and instruction caches after
/// code was written. `__builtin___clear_cache` on hosts whose instruction
/// cache is not coherent with stores (arm64); nothing on x86-64, whose
/// caches are coherent with stores by architecture.
void bpf_clear_instruction_cache(void *begin, void *end);

/// 1 when this x86-64 CPU has BMI2 (shlx/shrx/sarx, CPUID leaf 7 EBX bit 8)
/// and the OS enables AVX state for VEX encodings; 0 elsewhere.
int bpf_x86_has_bmi2(void);

/// 1 when this host needs bpf_clear_instruction_cache after writing code.
int bpf_instruction_cache_needs_maintenance(void);

/// Fills `buffer` with `count` (at most 256) bytes from the kernel's CSPRNG
/// via getrandom(2); returns 0, or -1 with errno set.
int bpf_random_bytes(void *buffer, size_t count);

/// Sequentially consistent 8-byte load and store. Swift's Synchronization
/// module offers atomics only on storage it owns, not on mapped memory.
uint64_t bpf_atomic_load_u64(const uint64_t *address);
void bpf_atomic_store_u64(uint64_t *address, uint64_t value);

#endif
