// Maps of maps: an array_of_maps whose slots 0 and 2 libbpf fills from the
// definition, and a hash_of_maps the host fills. The first payload byte is
// the outer key; the program counts in element 1 of the inner map.
// Returns the new count, 100 without an inner map.
#include "../../../examples/common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} by_hash SEC(".maps");

static __always_inline int count(void *outer_map, struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data + sizeof(struct ethhdr);
	if ((void *)(p + 1) > (void *)(long)ctx->data_end)
		return XDP_PASS;
	__u32 slot = p[0];
	void *inner = bpf_map_lookup_elem(outer_map, &slot);
	if (!inner)
		return 100;
	__u32 key = 1;
	__u64 *value = bpf_map_lookup_elem(inner, &key);
	if (!value)
		return 101;
	*value += 1;
	return *value;
}

SEC("xdp")
int count_array(struct xdp_md *ctx) { return count(&outer, ctx); }

SEC("xdp")
int count_hash(struct xdp_md *ctx) { return count(&by_hash, ctx); }

char LICENSE[] SEC("license") = "GPL";
