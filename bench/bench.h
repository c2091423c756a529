/*
 * Shared header of the BPFKit benchmark suite.
 *
 * Every program in bench/ is one C source compiled twice from the same text:
 *   - for BPF:    clang -O2 -g -target bpf -mcpu=v3  (the kernel's headers and libbpf's)
 *   - natively:   clang -O2 with native_shim.h, which provides what the kernel
 *                 would (struct xdp_md over a buffer, maps, helpers, tail calls).
 *
 * The header of each program says what its input packet is and what it returns;
 * `bpfkit bench` builds the packets (see BenchSuite.swift) and checks that every
 * engine returns the same value.
 */
#ifndef BPFKIT_BENCH_H
#define BPFKIT_BENCH_H

#ifdef __bpf__
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#else
#include "native_shim.h"
#endif

/* Bounds check the verifier understands: is [p, p + n) inside the packet? */
#define IN_PACKET(p, n, end) ((void *)(p) + (n) <= (void *)(end))

/* A program's result folded into the 32 bits `bpftool prog run` reports. */
static __always_inline __u32 fold64(__u64 h)
{
	return (__u32)(h ^ (h >> 32));
}

#endif
