/* bpf_fib_lookup from XDP and tc. The packet: a 14-byte Ethernet header,
 * 2 bytes of padding, the 64-byte struct bpf_fib_lookup at offset 16, the
 * flags (u32) at 80; the program writes the struct back as the helper left
 * it and the helper's result (s32) at 84. Built with -DFIB_TC for the tc
 * program (bpftool loads every program of an object as one type). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define PARAMS 16

static __always_inline int lookup(void *ctx, void *data, void *end, int full)
{
	if (data + PARAMS + 64 + 8 > end)
		return -1;
	struct bpf_fib_lookup p;
	__builtin_memcpy(&p, data + PARAMS, sizeof(p));
	__u32 flags = *(__u32 *)(data + PARAMS + 64);
	long rc = bpf_fib_lookup(ctx, &p, full ? sizeof(p) : 32, flags);
	__builtin_memcpy(data + PARAMS, &p, sizeof(p));
	*(__s32 *)(data + PARAMS + 68) = rc;
	return 0;
}

#ifndef FIB_TC
SEC("xdp")
int fib_xdp(struct xdp_md *ctx)
{
	return lookup(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end, 1) ? XDP_ABORTED : XDP_TX;
}

SEC("xdp")
int fib_xdp_short(struct xdp_md *ctx)
{
	return lookup(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end, 0) ? XDP_ABORTED : XDP_TX;
}

#else
SEC("tc")
int fib_tc(struct __sk_buff *skb)
{
	return lookup(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, 1) ? TC_ACT_SHOT : TC_ACT_OK;
}
#endif

char LICENSE[] SEC("license") = "GPL";
