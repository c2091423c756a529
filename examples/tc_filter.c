/* A tc classifier configured through maps: drops IPv4 packets whose source
 * address is in `blocked` (counting them there), marks the rest with the mark
 * in `config`, counts packets per CPU in `stats` and hands IPv4 packets to the
 * program in slot 0 of `next`, if any.
 *
 *   bpfkit run examples/tc_filter.c --data-in examples/packets/ipv4_udp.bin \
 *       --map-init filter.json --dump-maps --json
 */
#include "common.h"
#include <linux/pkt_cls.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);     /* IPv4 source address, network order */
	__type(value, __u64);   /* packets dropped */
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);   /* [0]: mark for passed packets */
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next SEC(".maps");

SEC("tc")
int tc_filter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&stats, &zero);

	if (count)
		*count += 1;
	if (!IN_PACKET(ip, sizeof(*ip), data_end) || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	__u64 *dropped = bpf_map_lookup_elem(&blocked, &ip->saddr);
	if (dropped) {
		__sync_fetch_and_add(dropped, 1);
		return TC_ACT_SHOT;
	}
	__u32 *mark = bpf_map_lookup_elem(&config, &zero);
	if (mark)
		skb->mark = *mark;
	bpf_tail_call(skb, &next, 0);
	return TC_ACT_OK;
}

/* A tail-call target: reports the mark as its verdict plus 100. */
SEC("tc")
int tc_report(struct __sk_buff *skb)
{
	return 100 + skb->mark;
}

char LICENSE[] SEC("license") = "GPL";
