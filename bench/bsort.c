// SPDX-License-Identifier: GPL-2.0
/*
 * Bubble sort of 32 32-bit words on the stack, copied from the packet after
 * the Ethernet header: the textbook loop nest, whose inner loop reads
 * neighbours at a variable index and writes back their minimum and maximum
 * (a compare-exchange: two selects on one comparison, both stores always
 * made). Returns a position-weighted sum of the sorted words.
 * Input: 14 + 128 bytes or more.
 */
#include "bench.h"

#define WORDS 32

SEC("xdp")
int bsort(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *words = data + 14;
	if (!IN_PACKET(words, WORDS * 4, data_end))
		return XDP_DROP;

	__u32 a[WORDS];
	for (int i = 0; i < WORDS; i++)
		a[i] = words[i];
	for (int i = 0; i < WORDS - 1; i++) {
		for (int j = 0; j < WORDS - 1 - i; j++) {
			__u32 x = a[j], y = a[j + 1];
			a[j] = x < y ? x : y;
			a[j + 1] = x < y ? y : x;
		}
	}
	__u64 sum = 0;
	for (int i = 0; i < WORDS; i++)
		sum += (__u64)a[i] * (i + 1);
	return fold64(sum);
}

char LICENSE[] SEC("license") = "GPL";
