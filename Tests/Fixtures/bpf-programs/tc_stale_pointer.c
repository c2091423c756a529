// Reads through a packet pointer taken before bpf_skb_change_tail shrank the
// packet (the kernel's verifier refuses this; BPFKit must stop the read).
#include "../../../examples/common.h"

SEC("tc")
int stale_after_change_tail(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (data + 60 > data_end)
		return 1;
	bpf_skb_change_tail(skb, 14, 0);
	return *(volatile __u8 *)(data + 40);
}

SEC("tc")
int fresh_after_change_tail(struct __sk_buff *skb)
{
	bpf_skb_change_tail(skb, 14, 0);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (data + 41 > data_end)
		return 2;
	return *(volatile __u8 *)(data + 40);
}

char LICENSE[] SEC("license") = "GPL";
