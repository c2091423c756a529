// SPDX-License-Identifier: GPL-2.0
/*
 * Atomics (cpu v3 and later): fetch-and-add, -or, -and, -xor, exchange and
 * compare-and-exchange on a map value and on global data. The old values
 * the fetching forms return are written into the frame after the Ethernet
 * header, so a test run shows every result.
 */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} cells SEC(".maps");

__u64 total = 5;   /* .data */
__u32 flags32;     /* .bss  */

SEC("xdp")
int atomics(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 *out = data + sizeof(struct ethhdr);
	__u32 key = 1;

	if ((void *)(out + 8) > data_end)
		return XDP_DROP;
	__u64 *cell = bpf_map_lookup_elem(&cells, &key);
	if (!cell)
		return XDP_ABORTED;

	__u64 in = out[0];
	out[0] = __sync_fetch_and_add(cell, in);
	out[1] = __sync_fetch_and_or(cell, 0xf0);
	out[2] = __sync_fetch_and_and(cell, ~0x3ull);
	out[3] = __sync_fetch_and_xor(cell, 0xff00);
	out[4] = __sync_lock_test_and_set(&total, *cell);
	out[5] = __sync_val_compare_and_swap(&total, *cell, 77);
	out[6] = __sync_val_compare_and_swap(&total, 12345, 88);
	out[7] = __sync_fetch_and_or(&flags32, (__u32)in);
	__sync_fetch_and_add(&total, 1);
	return (__u32)total;
}

char LICENSE[] SEC("license") = "GPL";
