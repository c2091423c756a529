// SPDX-License-Identifier: GPL-2.0
/*
 * A tail-call pipeline: `pipeline` checks the Ethernet header and jumps to
 * the IPv4 stage, which jumps to the transport stage, which jumps to the
 * verdict; the stages pass what they learn in an array map. Returns a mix of
 * the header fields the stages read. Input: Ethernet + IPv4 + TCP/UDP.
 */
#include "bench.h"

struct state {
	__u32 l4_offset;
	__u32 protocol;
	__u64 mix;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct state);
	__uint(max_entries, 1);
} pipeline_state SEC(".maps");

int stage_ip(struct xdp_md *ctx);
int stage_ports(struct xdp_md *ctx);
int stage_verdict(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} stages SEC(".maps") = {
	.values = {
		[1] = &stage_ip,
		[2] = &stage_ports,
		[3] = &stage_verdict,
	},
};

static __always_inline struct state *state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&pipeline_state, &zero);
}

SEC("xdp")
int pipeline(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct state *s = state();
	if (!s || !IN_PACKET(eth, sizeof(*eth), data_end))
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	s->mix = eth->h_source[5] | eth->h_dest[5] << 8;
	bpf_tail_call(ctx, &stages, 1);
	return XDP_ABORTED;
}

SEC("xdp")
int stage_ip(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct state *s = state();
	if (!s || !IN_PACKET(ip, sizeof(*ip), data_end))
		return XDP_DROP;
	s->l4_offset = sizeof(struct ethhdr) + ip->ihl * 4;
	s->protocol = ip->protocol;
	s->mix = (s->mix << 32 | ip->saddr) ^ ip->daddr;
	bpf_tail_call(ctx, &stages, 2);
	return XDP_ABORTED;
}

SEC("xdp")
int stage_ports(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct state *s = state();
	if (!s)
		return XDP_DROP;
	__u16 *ports = data + (s->l4_offset & 0xff);
	if (!IN_PACKET(ports, 4, data_end))
		return XDP_DROP;
	if (s->protocol == IPPROTO_TCP || s->protocol == IPPROTO_UDP)
		s->mix = s->mix * 31 + (ports[0] ^ (__u32)ports[1] << 16);
	bpf_tail_call(ctx, &stages, 3);
	return XDP_ABORTED;
}

SEC("xdp")
int stage_verdict(struct xdp_md *ctx)
{
	struct state *s = state();
	if (!s)
		return XDP_DROP;
	return fold64(s->mix ^ s->protocol);
}

char LICENSE[] SEC("license") = "GPL";
