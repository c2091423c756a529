// SPDX-License-Identifier: GPL-2.0
/*
 * Reflector: for IPv4 frames, swaps the Ethernet and IP source and
 * destination addresses, decrements the TTL, recomputes the IP header
 * checksum with bpf_csum_diff, and sends the frame back out (XDP_TX).
 * Other frames pass.
 */
#include "common.h"

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int swap_mac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	unsigned char mac[ETH_ALEN];
	__be32 addr;

	if (!IN_PACKET(eth, sizeof(*eth), data_end))
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (!IN_PACKET(ip, sizeof(*ip), data_end) || ip->ihl != 5)
		return XDP_PASS;
	if (ip->ttl <= 1)
		return XDP_DROP;

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->ttl--;

	ip->check = 0;
	ip->check = fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
