// SPDX-License-Identifier: GPL-2.0
/*
 * A program heavy in map updates: 32 keys derived from the packet, each
 * written to a hash map and to an array map (64 updates a run), then one key
 * read back from both. Returns what it read, the same for every run. Input:
 * any packet of 64+ bytes.
 */
#include "bench.h"

#define ENTRIES 256
#define UPDATES 32

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ENTRIES);
} by_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ENTRIES);
} by_index SEC(".maps");

SEC("xdp")
int map_updates(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (!IN_PACKET(data, 64, data_end))
		return XDP_DROP;
	__u32 seed = *(__u32 *)(data + 26);
	__u64 value = *(__u64 *)(data + 30);
	for (__u32 i = 0; i < UPDATES; i++) {
		__u32 key = (seed + i * 37) % ENTRIES;
		__u64 v = value + i;
		bpf_map_update_elem(&by_hash, &key, &v, BPF_ANY);
		bpf_map_update_elem(&by_index, &key, &v, BPF_ANY);
	}
	__u32 first = seed % ENTRIES;
	__u64 *a = bpf_map_lookup_elem(&by_hash, &first);
	__u64 *b = bpf_map_lookup_elem(&by_index, &first);
	if (!a || !b)
		return XDP_ABORTED;
	return fold64(*a * 3 + *b);
}

char LICENSE[] SEC("license") = "GPL";
