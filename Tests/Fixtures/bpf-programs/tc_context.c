// Reads the __sk_buff fields a tc program may read, writes the writable ones,
// and reports what it saw in the packet after the Ethernet header.
#include "../../../examples/common.h"
#include <linux/pkt_cls.h>

SEC("tc")
int tc_context(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	void *meta = (void *)(long)skb->data_meta;
	__u32 *out = data + sizeof(struct ethhdr);

	skb->mark = 0x1234 + skb->len;
	skb->priority = 7;
	skb->cb[0] = skb->protocol;
	skb->cb[4] = 0xabcd;
	skb->tc_index = 3;
	skb->tc_classid = 0x10002;
	skb->tstamp = 1000;
	if (!IN_PACKET(out, 22 * 4, data_end))
		return TC_ACT_SHOT;
	out[0] = skb->len;
	out[1] = skb->pkt_type;
	out[2] = skb->mark;
	out[3] = skb->queue_mapping;
	out[4] = skb->protocol;
	out[5] = skb->vlan_present;
	out[6] = skb->vlan_tci;
	out[7] = skb->vlan_proto;
	out[8] = skb->priority;
	out[9] = skb->ingress_ifindex;
	out[10] = skb->ifindex;
	out[11] = skb->tc_index;
	out[12] = skb->cb[0];
	out[13] = skb->hash;
	out[14] = skb->tc_classid;
	out[15] = data_end - data;
	out[16] = skb->napi_id;
	out[17] = meta == data;
	out[18] = (__u32)skb->tstamp;
	out[19] = skb->wire_len;
	out[20] = skb->gso_segs + skb->gso_size + (__u32)skb->hwtstamp;
	/* A narrow read: the low byte of the protocol (network order). */
	out[21] = *(volatile __u8 *)((void *)skb + __builtin_offsetof(struct __sk_buff, protocol));
	return skb->protocol == bpf_htons(ETH_P_IP) ? TC_ACT_OK : TC_ACT_UNSPEC;
}

/* bpf_redirect from tc: TC_ACT_REDIRECT with an ifindex taken from the
 * packet, BPF_F_INGRESS for UDP, and an unknown flag (TC_ACT_SHOT) for ICMP. */
SEC("tc")
int tc_redirect(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if (!IN_PACKET(ip, sizeof(*ip), data_end) || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->protocol == IPPROTO_ICMP)
		return bpf_redirect(ip->ttl, 4);
	return bpf_redirect(ip->ttl + 10, ip->protocol == IPPROTO_UDP ? BPF_F_INGRESS : 0);
}

char LICENSE[] SEC("license") = "GPL";
