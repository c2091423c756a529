// @class map-value-neighbours
// @inputs 64:00 64:01
// @forbid-r0 0xbad
/*
 * A map's values lie side by side in one slab, and the run-time check of
 * an access it cannot prove knows only the slab: a store past the end of
 * one 8-byte hash value lands in the next element, which belongs to
 * another key. Here key 2's element follows key 1's; the program stores
 * 0xbad at value + 8 of key 1 (packet byte 0 picks the store: +8, or
 * +0 through an index the verifier only bounds to [0, 15]) and returns
 * key 2's value. Only a hole returns 0xbad: the kernel refuses such
 * accesses ("invalid access to map value"), and so must the verifier.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

SEC("xdp")
int attack(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	if (data + 1 > end)
		return 0;
	__u32 k1 = 1, k2 = 2;
	__u64 zero = 0;
	bpf_map_update_elem(&table, &k1, &zero, BPF_ANY);
	bpf_map_update_elem(&table, &k2, &zero, BPF_ANY);
	unsigned char *a = bpf_map_lookup_elem(&table, &k1);
	if (!a)
		return 1;
	unsigned int i = data[0] ? 8 : 0;
	asm volatile("%0 &= 15" : "+r"(i));
	*(__u16 *)(a + i) = 0xbad;
	__u64 *b = bpf_map_lookup_elem(&table, &k2);
	if (!b)
		return 2;
	return *b;
}

char LICENSE[] SEC("license") = "GPL";
