// The limits of bpf_xdp_adjust_meta; results become bits of the return value.
// A file of its own: some kernels do not offer the helper to XDP programs
// (the kernel differential test then skips this object alone, saying so).
#include "../../../examples/common.h"

/* Metadata in front of the packet with bpf_xdp_adjust_meta: limits, then a value written and read back. */
SEC("xdp")
int meta(struct xdp_md *ctx)
{
	__u32 result = 0;
	result |= (bpf_xdp_adjust_meta(ctx, -6) == 0) << 0;    /* not whole words */
	result |= (bpf_xdp_adjust_meta(ctx, -256) == 0) << 1;  /* longer than skb_shared_info.meta_len holds */
	result |= (bpf_xdp_adjust_meta(ctx, 4) == 0) << 2;     /* past data */
	result |= (bpf_xdp_adjust_meta(ctx, -220) == 0) << 3;  /* into the xdp_frame reserve */
	result |= (bpf_xdp_adjust_meta(ctx, -212) == 0) << 5;  /* the longest that fits the headroom */
	result |= (bpf_xdp_adjust_meta(ctx, 212) == 0) << 6;
	result |= (bpf_xdp_adjust_head(ctx, -4) == 0) << 7;    /* moving data moves the (empty) metadata */
	result |= (bpf_xdp_adjust_head(ctx, 4) == 0) << 8;
	result |= (bpf_xdp_adjust_meta(ctx, -8) == 0) << 9;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 2) > data || data + 20 > data_end)
		return XDP_ABORTED;
	meta[0] = 0xfeedf00d;
	meta[1] = *(__u32 *)(data + 16);
	__u32 *out = data + 14;
	out[0] = meta[0] ^ meta[1];
	result |= (bpf_xdp_adjust_meta(ctx, 8) == 0) << 4;
	return result;
}

char LICENSE[] SEC("license") = "GPL";
