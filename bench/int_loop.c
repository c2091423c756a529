// SPDX-License-Identifier: GPL-2.0
/*
 * Tight integer loop: 1,000 rounds of xorshift64 plus the round number,
 * seeded from the first 8 bytes of the packet (so that no compiler can fold
 * it). Returns the state folded to 32 bits. Input: any packet of 64+ bytes.
 */
#include "bench.h"

SEC("xdp")
int int_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (!IN_PACKET(data, 8, data_end))
		return XDP_DROP;
	__u64 x = *(__u64 *)data | 1;
	for (__u32 i = 0; i < 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x += i;
	}
	return fold64(x);
}

char LICENSE[] SEC("license") = "GPL";
