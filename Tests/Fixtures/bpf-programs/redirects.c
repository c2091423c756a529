// XDP redirects through every redirect map type. The first two payload bytes
// choose the key (or ifindex) and the flags, so one program covers present
// and absent entries, fallback actions and invalid flags.
#include "../../../examples/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 8);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
	__uint(max_entries, 8);
} tx_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
	__uint(max_entries, 4);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 4);
} xsks SEC(".maps");

/* The key and the flags from the first payload bytes; -1 if the packet is too short. */
static __always_inline int choice(struct xdp_md *ctx, __u32 *key, __u64 *flags)
{
	__u8 *p = (void *)(long)ctx->data + sizeof(struct ethhdr);
	if ((void *)(p + 2) > (void *)(long)ctx->data_end)
		return -1;
	*key = p[0];
	*flags = p[1];
	return 0;
}

SEC("xdp")
int redirect_ifindex(struct xdp_md *ctx)
{
	__u32 key; __u64 flags;
	if (choice(ctx, &key, &flags))
		return XDP_PASS;
	return bpf_redirect(key, flags);
}

SEC("xdp")
int redirect_devmap(struct xdp_md *ctx)
{
	__u32 key; __u64 flags;
	if (choice(ctx, &key, &flags))
		return XDP_PASS;
	return bpf_redirect_map(&tx_port, key, flags);
}

SEC("xdp")
int redirect_devmap_hash(struct xdp_md *ctx)
{
	__u32 key; __u64 flags;
	if (choice(ctx, &key, &flags))
		return XDP_PASS;
	return bpf_redirect_map(&tx_hash, key, flags);
}

SEC("xdp")
int redirect_cpu(struct xdp_md *ctx)
{
	__u32 key; __u64 flags;
	if (choice(ctx, &key, &flags))
		return XDP_PASS;
	return bpf_redirect_map(&cpus, key, flags);
}

/* The AF_XDP pattern: redirect to the queue's socket if there is one. */
SEC("xdp")
int redirect_xsk(struct xdp_md *ctx)
{
	__u32 index = ctx->rx_queue_index;
	if (bpf_map_lookup_elem(&xsks, &index))
		return bpf_redirect_map(&xsks, index, 0);
	return bpf_redirect_map(&xsks, index, XDP_PASS);
}

/* Reads a devmap_hash entry back: its ifindex, or 100 when absent. */
SEC("xdp")
int devmap_lookup(struct xdp_md *ctx)
{
	__u32 key; __u64 flags;
	if (choice(ctx, &key, &flags))
		return XDP_PASS;
	struct bpf_devmap_val *value = bpf_map_lookup_elem(&tx_hash, &key);
	if (!value)
		return 100;
	return value->ifindex + 1000 * value->bpf_prog.id;
}

char LICENSE[] SEC("license") = "GPL";
