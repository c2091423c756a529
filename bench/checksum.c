// SPDX-License-Identifier: GPL-2.0
/*
 * IPv4 header checksum and TCP checksum (pseudo-header plus segment) of a
 * 1,500-byte IPv4/TCP packet, summed in 16-bit words as RFC 1071 describes.
 * Returns ip_checksum << 16 | tcp_checksum (both 0 for a packet whose
 * checksums are right). Input: Ethernet + IPv4 (no options) + TCP.
 */
#include "bench.h"

#define MAX_WORDS 740 /* 1,480 bytes: the segment of a 1,500-byte packet */

static __always_inline __u32 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

SEC("xdp")
int tcp_checksum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if (!IN_PACKET(ip, 40, data_end) || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP)
		return XDP_PASS;

	__u16 *header = (void *)ip;
	__u32 sum = 0;
	for (int i = 0; i < 10; i++)
		sum += header[i];
	__u32 ip_check = ~fold(sum) & 0xffff;

	__u32 length = bpf_ntohs(ip->tot_len) - 20;
	sum = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) + (ip->daddr >> 16) +
	      bpf_htons(IPPROTO_TCP) + bpf_htons(length);
	__u16 *segment = (void *)(ip + 1);
	for (__u32 i = 0; i < MAX_WORDS; i++) {
		__u16 *word = segment + i;
		if (2 * i + 2 > length || !IN_PACKET(word, 2, data_end))
			break;
		sum += *word;
	}
	__u32 tcp_check = ~fold(sum) & 0xffff;
	return ip_check << 16 | tcp_check;
}

char LICENSE[] SEC("license") = "GPL";
