// SPDX-License-Identifier: GPL-2.0
/*
 * Sort of 64 32-bit words on the stack, copied from the packet
 * after the Ethernet header. Returns a position-weighted sum of the sorted
 * words (which tells a sorted array from others). Input: 14 + 256 bytes or more.
 */
#include "bench.h"

#define WORDS 64

/* Both words are always written back, so that the paths through the
 * comparison meet before the stores (the verifier then sees one state). */
static __always_inline void compare_exchange(volatile __u32 *a, int k)
{
	__u32 x = a[k], y = a[k + 1];
	__u32 low = x < y ? x : y, high = x < y ? y : x;
	a[k] = low;
	a[k + 1] = high;
}

SEC("xdp")
int sort64(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *words = data + 14;
	if (!IN_PACKET(words, WORDS * 4, data_end))
		return XDP_DROP;

	volatile __u32 a[WORDS]; /* in memory, as the suite promises */
	for (int i = 0; i < WORDS; i++)
		a[i] = words[i];
	/* Odd-even transposition sort: 64 rounds of compare-exchanges whose shape
	 * does not depend on the data, the exchanges of a round unrolled so that
	 * every stack offset is a constant. (An insertion sort's shape depends on
	 * the data, and the kernel's verifier gives up on it: too many paths.) */
	for (int round = 0; round < WORDS / 2; round++) {
#pragma clang loop unroll(full)
		for (int k = 0; k < WORDS - 1; k += 2)
			compare_exchange(a, k);
#pragma clang loop unroll(full)
		for (int k = 1; k < WORDS - 1; k += 2)
			compare_exchange(a, k);
	}
	__u64 sum = 0;
	for (int i = 0; i < WORDS; i++)
		sum += (__u64)a[i] * (i + 1);
	return fold64(sum);
}

char LICENSE[] SEC("license") = "GPL";
