// The helpers that change a socket buffer's size and headers, each program a
// sequence of calls whose results it records; the packet afterwards shows
// what they did.
#include "../../../examples/common.h"
#include <linux/pkt_cls.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} steps SEC(".maps");

static __always_inline void record(__u32 i, long v)
{
	__u64 value = (__u64)v;
	bpf_map_update_elem(&steps, &i, &value, BPF_ANY);
}

/* Reads the first bytes after a change through fresh packet pointers. */
static __always_inline __u32 first_word(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 4 > end)
		return 0xffffffff;
	return *(__u32 *)data;
}

SEC("tc")
int tail_and_head(struct __sk_buff *skb)
{
	record(0, bpf_skb_change_tail(skb, 13, 0));
	record(1, bpf_skb_change_tail(skb, skb->len + 30, 0));
	record(2, bpf_skb_change_tail(skb, skb->len - 10, 0));
	record(3, bpf_skb_change_tail(skb, 16065, 0));
	record(4, bpf_skb_change_tail(skb, 60, 1));
	record(5, bpf_skb_change_head(skb, 8, 0));
	record(6, first_word(skb));
	record(7, bpf_skb_change_head(skb, 16064, 0));
	record(8, bpf_skb_change_head(skb, 4, 2));
	record(9, bpf_skb_pull_data(skb, 0));
	record(10, bpf_skb_pull_data(skb, skb->len));
	record(11, bpf_skb_pull_data(skb, skb->len + 1));
	record(12, skb->len);
	return TC_ACT_OK;
}

SEC("tc")
int vlans(struct __sk_buff *skb)
{
	record(0, bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100));
	record(1, skb->vlan_present * 1000000 + skb->vlan_tci * 10 + (skb->vlan_proto == bpf_htons(ETH_P_8021Q)));
	record(2, bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD), 200));
	record(3, skb->protocol);
	record(4, bpf_skb_vlan_push(skb, bpf_htons(0x1234), 300));
	record(5, skb->len * 100000 + skb->vlan_tci * 10 + (skb->vlan_proto == bpf_htons(ETH_P_8021Q)));
	record(6, bpf_skb_vlan_pop(skb));
	record(7, skb->vlan_present * 1000000 + skb->vlan_tci * 10 + skb->len);
	record(8, bpf_skb_vlan_pop(skb));
	record(9, skb->protocol * 1000 + skb->vlan_tci);
	record(10, bpf_skb_vlan_pop(skb));
	record(11, skb->vlan_present * 1000 + skb->len);
	record(12, bpf_skb_vlan_pop(skb));
	record(13, first_word(skb));
	return TC_ACT_OK;
}

SEC("tc")
int protocols(struct __sk_buff *skb)
{
	record(0, bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 1));
	record(1, bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0));
	record(2, skb->protocol * 100000 + skb->len);
	record(3, bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0));
	record(4, bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0));
	record(5, skb->protocol * 100000 + skb->len);
	record(6, bpf_skb_change_proto(skb, bpf_htons(ETH_P_ARP), 0));
	return TC_ACT_OK;
}

SEC("tc")
int rooms(struct __sk_buff *skb)
{
	record(0, bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_NET, 0));
	record(1, skb->len);
	record(2, bpf_skb_adjust_room(skb, -8, BPF_ADJ_ROOM_NET, 0));
	record(3, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC, 0));
	record(4, bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_MAC, 0));
	record(5, bpf_skb_adjust_room(skb, 4, 7, 0));
	record(6, bpf_skb_adjust_room(skb, 0x1000, BPF_ADJ_ROOM_NET, 0));
	record(7, bpf_skb_adjust_room(skb, -4000, BPF_ADJ_ROOM_NET, 0));
	record(8, bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	record(9, bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	record(10, bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_NET, 1ULL << 9));
	record(11, bpf_skb_adjust_room(skb, -20, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4));
	record(12, skb->len);
	record(13, bpf_skb_change_tail(skb, 100, 0));
	return TC_ACT_OK;
}

SEC("tc")
int loads(struct __sk_buff *skb)
{
	__u8 buf[16] = {};
	record(0, bpf_skb_load_bytes(skb, 6, buf, 8));
	record(1, *(__u64 *)buf);
	record(2, bpf_skb_load_bytes(skb, skb->len - 4, buf, 8));
	record(3, *(__u64 *)buf);
	record(4, bpf_skb_load_bytes_relative(skb, 0, buf, 4, BPF_HDR_START_NET));
	record(5, *(__u32 *)buf);
	record(6, bpf_skb_load_bytes_relative(skb, 12, buf, 2, BPF_HDR_START_MAC));
	record(7, *(__u16 *)buf);
	record(8, bpf_skb_load_bytes_relative(skb, 0, buf, 4, 5));
	record(9, bpf_get_cgroup_classid(skb));
	record(10, bpf_csum_update(skb, 5));
	bpf_set_hash(skb, 77);
	record(11, skb->hash);
	record(12, bpf_get_hash_recalc(skb));
	bpf_set_hash_invalid(skb);
	record(13, skb->hash);
	return TC_ACT_OK;
}


SEC("tc")
int tunnels(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};

	key.tunnel_id = 7;
	key.remote_ipv4 = 0x0a000001;
	record(0, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0));
	record(1, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 1 << 5));
	record(2, bpf_skb_set_tunnel_key(skb, &key, 28, BPF_F_ZERO_CSUM_TX | BPF_F_DONT_FRAGMENT));
	record(3, bpf_skb_set_tunnel_key(skb, &key, 30, 0));
	key.tunnel_label = 5;
	record(4, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0));
	record(5, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_TUNINFO_IPV6));
	record(6, bpf_skb_set_tunnel_key(skb, &key, 24, 0));
	key.tunnel_ext = 1;
	record(7, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_TUNINFO_IPV6));
	record(8, bpf_skb_set_tunnel_key(skb, &key, 8, 0));
	return TC_ACT_OK;
}

SEC("tc")
int levels(struct __sk_buff *skb)
{
	record(0, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	record(1, bpf_csum_level(skb, BPF_CSUM_LEVEL_INC));
	record(2, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	record(3, bpf_csum_level(skb, BPF_CSUM_LEVEL_INC));
	record(4, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	record(5, bpf_csum_level(skb, BPF_CSUM_LEVEL_DEC));
	record(6, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	record(7, bpf_skb_adjust_room(skb, 0, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_NO_CSUM_RESET));
	record(8, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	record(9, bpf_skb_adjust_room(skb, 0, BPF_ADJ_ROOM_MAC, 0));
	record(10, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	record(11, bpf_csum_level(skb, 9));
	record(12, bpf_skb_change_type(skb, 1));
	record(13, bpf_skb_change_type(skb, 4));
	record(14, skb->pkt_type);
	bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	record(15, bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY));
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
