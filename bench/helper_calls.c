// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of a helper call: 64 calls of bpf_map_lookup_elem on a hash map
 * (which no JIT inlines), each for one of 8 keys that are present after the
 * first run (a miss inserts its key). The values are never read, so only the
 * calls are timed, not the access to what they return. Returns a mix of the
 * keys, the same for every run. Input: any packet.
 */
#include "bench.h"

#define KEYS 8
#define CALLS 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} table SEC(".maps");

SEC("xdp")
int helper_calls(struct xdp_md *ctx)
{
	__u64 mix = 0;
	for (__u32 i = 0; i < CALLS; i++) {
		__u32 key = i & (KEYS - 1);
		if (!bpf_map_lookup_elem(&table, &key)) {
			__u64 fresh = key;
			bpf_map_update_elem(&table, &key, &fresh, BPF_ANY);
		}
		mix = mix * 31 + key;
	}
	return fold64(mix);
}

char LICENSE[] SEC("license") = "GPL";
