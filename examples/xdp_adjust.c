// SPDX-License-Identifier: GPL-2.0
/*
 * Growing and shrinking frames with bpf_xdp_adjust_head and
 * bpf_xdp_adjust_tail: frames with the experimental EtherType 0x88b5 lose
 * the 4-byte tag that follows their Ethernet header (decapsulation); other
 * frames get one pushed in front of their payload (encapsulation). Frames
 * longer than 64 bytes are then trimmed by 2 bytes, shorter ones padded by 6.
 */
#include "common.h"

#define ETH_P_TAGGED 0x88b5

SEC("xdp")
int adjust(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr copy;
	int grow;

	if (!IN_PACKET(eth, sizeof(*eth) + 4, data_end))
		return XDP_DROP;
	__builtin_memcpy(&copy, eth, sizeof(copy));

	if (eth->h_proto == bpf_htons(ETH_P_TAGGED)) {
		__be16 inner = *(__be16 *)((void *)(eth + 1) + 2);
		if (bpf_xdp_adjust_head(ctx, 4))
			return XDP_ABORTED;
		copy.h_proto = inner;
	} else {
		if (bpf_xdp_adjust_head(ctx, -4))
			return XDP_ABORTED;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if (!IN_PACKET(eth, sizeof(*eth) + 4, data_end))
		return XDP_ABORTED;
	if (copy.h_proto != bpf_htons(ETH_P_TAGGED) && eth->h_proto != copy.h_proto) {
		/* encapsulated: tag = 0xbe, 0xef, inner EtherType */
		__u8 *tag = (void *)(eth + 1);
		__builtin_memcpy(eth, &copy, sizeof(copy));
		eth->h_proto = bpf_htons(ETH_P_TAGGED);
		tag[0] = 0xbe;
		tag[1] = 0xef;
		__builtin_memcpy(tag + 2, &copy.h_proto, 2);
	} else {
		__builtin_memcpy(eth, &copy, sizeof(copy));
	}

	grow = (data_end - data) > 64 ? -2 : 6;
	if (bpf_xdp_adjust_tail(ctx, grow))
		return XDP_ABORTED;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
