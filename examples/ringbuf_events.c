// SPDX-License-Identifier: GPL-2.0
/*
 * Events through a ring buffer: for every frame, reserve a record, fill it
 * with the frame length, EtherType and first bytes, and submit it; frames
 * whose EtherType is 0 are reserved and then discarded; frames longer than
 * 100 bytes also send a copy of their first 32 bytes with bpf_ringbuf_output.
 */
#include "common.h"

struct event {
	__u32 length;
	__u16 ethertype;
	__u8 first[10];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int ringbuf_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (!IN_PACKET(eth, sizeof(*eth), data_end))
		return XDP_DROP;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_ABORTED;
	e->length = data_end - data;
	e->ethertype = bpf_ntohs(eth->h_proto);
	__builtin_memcpy(e->first, data, sizeof(e->first));
	if (eth->h_proto == 0) {
		bpf_ringbuf_discard(e, 0);
		return XDP_DROP;
	}
	bpf_ringbuf_submit(e, 0);

	if (data + 100 < data_end && data + 32 <= data_end) {
		/* Helpers may not read the packet itself: copy to the stack first. */
		__u8 head[32];
		__builtin_memcpy(head, data, sizeof(head));
		if (bpf_ringbuf_output(&events, head, sizeof(head), 0) != 0)
			return XDP_ABORTED;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
