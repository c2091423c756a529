// SPDX-License-Identifier: GPL-2.0
/*
 * A packet pipeline whose stages are separate programs chained with
 * bpf_tail_call through a program array that the object initialises
 * statically (libbpf fills it when it loads the object; so does BPFKit).
 *
 *   pipeline -> [PARSE] parse -+- IPv4 ------> [IPV4] ipv4 -(subprogram)-> [FINISH] finish
 *                              +- ARP -------> [ARP]: an empty slot, the call falls through
 *                              +- 0x88b5 ----> ten calls to the empty slot, then
 *                              |               [LOOP] loop, which tail-calls itself until the limit
 *                              +- otherwise -(subprogram)-> the slot the first payload byte names
 *
 * [LOOP_SUB] loop_sub tail-calls itself from a subprogram: the limit of 33
 * tail calls per run holds across frames, and each time the tail-called
 * program returns, its verdict goes to the subprogram's caller.
 *
 * Marks in the packet (the Ethernet source address) show the path taken:
 * byte 11 counts stage runs, byte 10 is set by ipv4 from finish's verdict,
 * byte 9 counts the returns through loop_sub's subprogram, byte 8 is set by
 * finish. The visits map counts the runs of every stage over all packets.
 */
#include "common.h"

enum { PARSE, IPV4, ARP, FINISH, LOOP, LOOP_SUB, SLOTS = 8, PIPELINE = SLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, SLOTS + 1);
} visits SEC(".maps");

int parse(struct xdp_md *ctx);
int ipv4(struct xdp_md *ctx);
int finish(struct xdp_md *ctx);
int loop(struct xdp_md *ctx);
int loop_sub(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} stages SEC(".maps") = {
	.values = {
		[PARSE] = (void *)&parse,
		[IPV4] = (void *)&ipv4,
		[FINISH] = (void *)&finish,
		[LOOP] = (void *)&loop,
		[LOOP_SUB] = (void *)&loop_sub,
	},
};

static __always_inline void visit(__u32 stage)
{
	__u64 *n = bpf_map_lookup_elem(&visits, &stage);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The Ethernet header, or NULL when the packet is shorter than one. */
static __always_inline __u8 *ethernet(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	if (!IN_PACKET(data, sizeof(struct ethhdr), (void *)(long)ctx->data_end))
		return 0;
	return data;
}

SEC("xdp")
int pipeline(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	visit(PIPELINE);
	eth[11] = 0;
	bpf_tail_call(ctx, &stages, PARSE);
	return XDP_ABORTED;
}

/* A tail call made from a subprogram: when it succeeds, the called
 * program's verdict is what this function returns to its caller. (The
 * fall-through verdicts depend on the arguments so that the compiler cannot
 * assume the function's result: it does not know about tail calls.) */
static __attribute__((noinline)) int dispatch(struct xdp_md *ctx, __u32 slot)
{
	bpf_tail_call(ctx, &stages, slot);
	return slot < SLOTS ? XDP_ABORTED : XDP_PASS;	/* an empty slot, or out of range */
}

SEC("xdp")
int parse(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	visit(PARSE);
	eth[11] += 1;
	__u16 proto = ((struct ethhdr *)eth)->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		bpf_tail_call(ctx, &stages, IPV4);
		return XDP_ABORTED;
	}
	if (proto == bpf_htons(ETH_P_ARP)) {
		bpf_tail_call(ctx, &stages, ARP);	/* empty: falls through */
		return XDP_PASS;
	}
	if (proto == bpf_htons(0x88b5)) {
#pragma unroll
		for (int i = 0; i < 10; i++)
			bpf_tail_call(ctx, &stages, ARP);
		bpf_tail_call(ctx, &stages, LOOP);
		return XDP_ABORTED;
	}
	if (!IN_PACKET(eth, sizeof(struct ethhdr) + 1, (void *)(long)ctx->data_end))
		return XDP_DROP;
	return dispatch(ctx, eth[sizeof(struct ethhdr)]);
}

static __attribute__((noinline)) int to_finish(struct xdp_md *ctx, __u8 ttl)
{
	bpf_tail_call(ctx, &stages, FINISH);
	return ttl > 128 ? XDP_DROP : XDP_ABORTED;
}

SEC("xdp")
int ipv4(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	struct iphdr *ip = (void *)(eth + sizeof(struct ethhdr));
	if (!IN_PACKET(ip, sizeof(*ip), (void *)(long)ctx->data_end))
		return XDP_DROP;
	visit(IPV4);
	eth[11] += 1;
	if (ip->ttl <= 1)
		return XDP_DROP;
	ip->ttl -= 1;
	int verdict = to_finish(ctx, ip->ttl);
	/* The subprogram may have run another program: look at the packet again. */
	eth = ethernet(ctx);
	if (!eth)
		return XDP_ABORTED;
	eth[10] = 0x10 + verdict;
	return verdict;
}

SEC("xdp")
int finish(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	visit(FINISH);
	eth[11] += 1;
	eth[8] = 0xf1;
	return XDP_TX;
}

SEC("xdp")
int loop(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	visit(LOOP);
	eth[11] += 1;
	bpf_tail_call(ctx, &stages, LOOP);	/* until the run's 33 tail calls are used */
	return XDP_PASS;
}

static __attribute__((noinline)) int again(struct xdp_md *ctx, __u8 runs)
{
	bpf_tail_call(ctx, &stages, LOOP_SUB);
	return runs > 40 ? XDP_DROP : XDP_PASS;	/* 40 runs: more than the limit allows */
}

SEC("xdp")
int loop_sub(struct xdp_md *ctx)
{
	__u8 *eth = ethernet(ctx);
	if (!eth)
		return XDP_DROP;
	visit(LOOP_SUB);
	eth[11] += 1;
	int verdict = again(ctx, eth[11]);
	eth = ethernet(ctx);
	if (!eth)
		return XDP_ABORTED;
	eth[9] += 1;
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
