// Map helpers' errno results (flags, capacity, deletes, LRU eviction), written into the frame.
#include "../../../examples/common.h"

struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 2); } small SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 4); } arr SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __type(key, __u32); __type(value, __u32); __uint(max_entries, 64); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 2); } pcpu SEC(".maps");

SEC("xdp")
int map_errors(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__s32 *out = data + sizeof(struct ethhdr);
	__u32 k1 = 1, k2 = 2, k3 = 3, k9 = 9;
	__u64 v = 42, w = 43;
	__u32 small_v = 5;

	if ((void *)(out + 20) > data_end)
		return XDP_DROP;
	out[0] = bpf_map_update_elem(&small, &k1, &v, BPF_NOEXIST);
	out[1] = bpf_map_update_elem(&small, &k1, &w, BPF_NOEXIST);
	out[2] = bpf_map_update_elem(&small, &k2, &w, BPF_EXIST);
	out[3] = bpf_map_update_elem(&small, &k2, &w, BPF_ANY);
	out[4] = bpf_map_update_elem(&small, &k3, &w, BPF_ANY);
	out[5] = bpf_map_update_elem(&small, &k1, &w, BPF_EXIST);
	out[6] = bpf_map_delete_elem(&small, &k3);
	out[7] = bpf_map_delete_elem(&small, &k2);
	out[8] = bpf_map_update_elem(&small, &k3, &v, 7);
	__u64 *got = bpf_map_lookup_elem(&small, &k1);
	out[9] = got ? (__s32)*got : -1;
	out[10] = bpf_map_update_elem(&arr, &k9, &small_v, BPF_ANY);
	out[11] = bpf_map_update_elem(&arr, &k1, &small_v, BPF_NOEXIST);
	out[12] = bpf_map_update_elem(&arr, &k1, &small_v, BPF_EXIST);
	out[13] = bpf_map_delete_elem(&arr, &k1);
	out[14] = bpf_map_lookup_elem(&arr, &k9) == 0;
	__u32 *a1 = bpf_map_lookup_elem(&arr, &k1);
	out[15] = a1 ? *a1 : -1;
	out[16] = bpf_map_update_elem(&lru, &k1, &small_v, BPF_ANY);
	out[17] = bpf_map_lookup_elem(&lru, &k2) == 0;
	out[18] = bpf_map_update_elem(&pcpu, &k1, &v, BPF_ANY);
	__u64 *p = bpf_map_lookup_elem(&pcpu, &k1);
	out[19] = p ? (__s32)*p : -1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
