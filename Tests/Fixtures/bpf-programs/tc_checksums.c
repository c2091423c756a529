// Rewrites IPv4 addresses and ports with bpf_skb_store_bytes and fixes the
// checksums with bpf_l3/l4_csum_replace and bpf_csum_diff, as NAT programs
// do; records each helper's result, bad arguments included.
#include "../../../examples/common.h"
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stddef.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void record(__u32 i, long v)
{
	__u64 value = (__u64)v;
	bpf_map_update_elem(&results, &i, &value, BPF_ANY);
}

#define IP_OFF ETH_HLEN
#define L4_OFF (ETH_HLEN + sizeof(struct iphdr))

SEC("tc")
int tc_nat(struct __sk_buff *skb)
{
	struct iphdr ip;
	__be32 new_daddr = bpf_htonl(0x0a000063), new_saddr = bpf_htonl(0xc0a80001);
	__be16 new_port = bpf_htons(8080);
	long r;

	r = bpf_skb_load_bytes(skb, IP_OFF, &ip, sizeof(ip));
	record(0, r);
	if (r < 0 || ip.ihl != 5)
		return TC_ACT_OK;
	/* Destination address: store, then both checksums by 4-byte replace. */
	record(1, bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, daddr), &new_daddr, 4, 0));
	record(2, bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), ip.daddr, new_daddr, 4));
	if (ip.protocol == IPPROTO_TCP) {
		record(3, bpf_l4_csum_replace(skb, L4_OFF + offsetof(struct tcphdr, check), ip.daddr, new_daddr,
					      BPF_F_PSEUDO_HDR | 4));
		__be16 old_port;
		bpf_skb_load_bytes(skb, L4_OFF + offsetof(struct tcphdr, dest), &old_port, 2);
		record(4, bpf_skb_store_bytes(skb, L4_OFF + offsetof(struct tcphdr, dest), &new_port, 2, BPF_F_INVALIDATE_HASH));
		record(5, bpf_l4_csum_replace(skb, L4_OFF + offsetof(struct tcphdr, check), old_port, new_port, 2));
	} else if (ip.protocol == IPPROTO_UDP) {
		record(3, bpf_l4_csum_replace(skb, L4_OFF + offsetof(struct udphdr, check), ip.daddr, new_daddr,
					      BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4));
		__be16 old_port;
		bpf_skb_load_bytes(skb, L4_OFF + offsetof(struct udphdr, dest), &old_port, 2);
		record(4, bpf_skb_store_bytes(skb, L4_OFF + offsetof(struct udphdr, dest), &new_port, 2, BPF_F_RECOMPUTE_CSUM));
		record(5, bpf_l4_csum_replace(skb, L4_OFF + offsetof(struct udphdr, check), old_port, new_port,
					      BPF_F_MARK_MANGLED_0 | 2));
	}
	/* Source address: one difference for both checksums (size 0). */
	__s64 diff = bpf_csum_diff(&ip.saddr, 4, &new_saddr, 4, 0);
	record(6, bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, saddr), &new_saddr, 4, 0));
	record(7, bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), 0, diff, 0));
	/* The TTL as a 2-byte field (with the protocol). */
	__u16 old_ttl = *(__u16 *)&ip.ttl, new_ttl;
	((__u8 *)&new_ttl)[0] = ip.ttl - 1;
	((__u8 *)&new_ttl)[1] = ip.protocol;
	record(8, bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, ttl), &new_ttl, 2, 0));
	record(9, bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), old_ttl, new_ttl, 2));
	/* Bad arguments. */
	record(10, bpf_l3_csum_replace(skb, IP_OFF + 1, 0, 0, 2));
	record(11, bpf_l3_csum_replace(skb, IP_OFF + 10, 1, 2, 0));
	record(12, bpf_l3_csum_replace(skb, IP_OFF + 10, 1, 2, 3));
	record(13, bpf_l3_csum_replace(skb, IP_OFF + 10, 1, 2, BPF_F_PSEUDO_HDR | 2));
	record(14, bpf_l4_csum_replace(skb, skb->len, 1, 2, 2));
	record(15, bpf_skb_store_bytes(skb, skb->len - 1, &new_port, 2, 0));
	record(16, bpf_skb_store_bytes(skb, 0, &new_port, 2, 4));
	record(17, bpf_skb_load_bytes(skb, skb->len - 1, &new_port, 2));
	record(18, new_port);
	record(19, bpf_l4_csum_replace(skb, 0x10000, 1, 2, 2));
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
