// The limits of bpf_xdp_adjust_head and bpf_xdp_adjust_tail; results become bits of the return value.
#include "../../../examples/common.h"

SEC("xdp")
int adjust_limits(struct xdp_md *ctx)
{
	__u32 result = 0;
	int len = ctx->data_end - ctx->data;

	result |= (bpf_xdp_adjust_head(ctx, -217) == 0) << 0;   /* past the xdp_frame reserve */
	result |= (bpf_xdp_adjust_head(ctx, -216) == 0) << 1;   /* exactly to it */
	result |= (bpf_xdp_adjust_head(ctx, 216) == 0) << 2;    /* back */
	result |= (bpf_xdp_adjust_head(ctx, len - 13) == 0) << 3; /* leaves less than ETH_HLEN */
	result |= (bpf_xdp_adjust_head(ctx, len - 14) == 0) << 4; /* leaves exactly ETH_HLEN */
	result |= (bpf_xdp_adjust_head(ctx, -(len - 14)) == 0) << 5;
	result |= (bpf_xdp_adjust_tail(ctx, -(len - 13)) == 0) << 6;
	result |= (bpf_xdp_adjust_tail(ctx, -(len - 14)) == 0) << 7;
	result |= (bpf_xdp_adjust_tail(ctx, 4096) == 0) << 8;
	result |= (bpf_xdp_adjust_tail(ctx, 3520 - 14) == 0) << 9;  /* to the end of the frame */
	result |= (bpf_xdp_adjust_tail(ctx, 1) == 0) << 10;
	result |= (bpf_xdp_adjust_tail(ctx, -(3520 - 14 - 20)) == 0) << 11;
	return result;
}

/* Shrinks then grows again: grown bytes must be zero even if the program wrote them before. */
SEC("xdp")
int regrow(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 40 > data_end)
		return XDP_DROP;
	__builtin_memset(data + 20, 0xaa, 20);
	if (bpf_xdp_adjust_tail(ctx, -(int)(data_end - data - 20)))
		return XDP_ABORTED;
	if (bpf_xdp_adjust_tail(ctx, 30))
		return XDP_ABORTED;
	return XDP_TX;
}

/* bpf_xdp_load_bytes / bpf_xdp_store_bytes within and past the packet. */
SEC("xdp")
int load_store(struct xdp_md *ctx)
{
	__u8 buf[16];
	__u32 result = 0;
	result |= (bpf_xdp_load_bytes(ctx, 2, buf, 16) == 0) << 0;
	buf[0] ^= 0xff;
	result |= (bpf_xdp_store_bytes(ctx, 20, buf, 16) == 0) << 1;
	result |= (bpf_xdp_load_bytes(ctx, 60, buf, 16) == 0) << 2;
	result |= (bpf_xdp_store_bytes(ctx, 65, buf, 1) == 0) << 3;
	result |= (bpf_xdp_get_buff_len(ctx) == 64) << 4;
	return result;
}

char LICENSE[] SEC("license") = "GPL";
