// SPDX-License-Identifier: GPL-2.0
/*
 * A program heavy in local calls: 256 words of the packet, each folded into
 * the hash through three levels of __noinline subprograms (768 bpf-to-bpf
 * calls a run). Returns the hash folded to 32 bits. Input: 14 + 1,024 bytes or more.
 */
#include "bench.h"

#define WORDS 256

static __noinline __u64 mix(__u64 hash, __u64 value)
{
	hash ^= value;
	hash *= 0x100000001b3ULL;
	return hash ^ (hash >> 29);
}

static __noinline __u64 absorb(__u64 hash, __u32 word, __u32 index)
{
	return mix(mix(hash, word), index);
}

SEC("xdp")
int local_calls(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *words = data + 14;
	if (!IN_PACKET(words, WORDS * 4, data_end))
		return XDP_DROP;
	__u64 hash = 0xcbf29ce484222325ULL;
	for (__u32 i = 0; i < WORDS; i++)
		hash = absorb(hash, words[i], i);
	return fold64(hash);
}

char LICENSE[] SEC("license") = "GPL";
