// SPDX-License-Identifier: GPL-2.0
/*
 * Per-protocol packet counter: counts packets and bytes per IPv4 protocol
 * (TCP, UDP, ICMP, ...) or, for other frames, per EtherType, in a hash map.
 * Frames too short for an Ethernet header are dropped; everything else passes.
 */
#include "common.h"

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);            /* IPv4 protocol, or 0x10000 | EtherType */
	__type(value, struct counter);
	__uint(max_entries, 64);
} protocol_counts SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key;

	if (!IN_PACKET(eth, sizeof(*eth), data_end))
		return XDP_DROP;

	key = 0x10000 | bpf_ntohs(eth->h_proto);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if (!IN_PACKET(ip, sizeof(*ip), data_end))
			return XDP_DROP;
		key = ip->protocol;
	}

	struct counter *c = bpf_map_lookup_elem(&protocol_counts, &key);
	if (!c) {
		struct counter fresh = {};
		bpf_map_update_elem(&protocol_counts, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&protocol_counts, &key);
		if (!c)
			return XDP_ABORTED;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, data_end - data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
