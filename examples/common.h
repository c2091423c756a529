/* Shared includes for the BPFKit examples (kernel headers and libbpf's helpers). */
#ifndef BPFKIT_EXAMPLES_COMMON_H
#define BPFKIT_EXAMPLES_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Bounds check the verifier understands: is [p, p + n) inside the packet? */
#define IN_PACKET(p, n, end) ((void *)(p) + (n) <= (void *)(end))

#endif
