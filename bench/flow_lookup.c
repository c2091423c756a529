// SPDX-License-Identifier: GPL-2.0
/*
 * XDP 5-tuple parse with a hash-map lookup: Ethernet, IPv4 (with options),
 * TCP or UDP ports; the flow's packet and byte counters are found in a hash
 * map (inserted on the first packet, then updated in place). Returns a mix of
 * the 5-tuple, the same for every run. Input: Ethernet + IPv4 + TCP/UDP.
 */
#include "bench.h"

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 proto;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
	__uint(max_entries, 1024);
} flows SEC(".maps");

SEC("xdp")
int flow_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if (!IN_PACKET(eth, sizeof(*eth), data_end) || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if (!IN_PACKET(ip, sizeof(*ip), data_end))
		return XDP_DROP;
	__u32 header = ip->ihl * 4;
	if (header < sizeof(*ip) || (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP))
		return XDP_PASS;
	__u16 *ports = (void *)ip + header;
	if (!IN_PACKET(ports, 4, data_end))
		return XDP_DROP;

	struct flow_key key = {
		.saddr = ip->saddr,
		.daddr = ip->daddr,
		.sport = ports[0],
		.dport = ports[1],
		.proto = ip->protocol,
	};
	__u64 bytes = data_end - data;
	struct flow_stats *stats = bpf_map_lookup_elem(&flows, &key);
	if (stats) {
		__sync_fetch_and_add(&stats->packets, 1);
		__sync_fetch_and_add(&stats->bytes, bytes);
	} else {
		struct flow_stats fresh = { .packets = 1, .bytes = bytes };
		bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST);
	}
	return fold64(((__u64)key.saddr << 32 | key.daddr) ^ ((__u64)key.sport << 24 | key.dport << 8 | key.proto));
}

char LICENSE[] SEC("license") = "GPL";
