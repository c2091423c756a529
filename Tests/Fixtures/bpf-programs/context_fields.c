// Reads every xdp_md field the kernel allows and reports them in the frame.
#include "../../../examples/common.h"

SEC("xdp")
int context_fields(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *meta = (void *)(long)ctx->data_meta;
	__u32 *out = data + sizeof(struct ethhdr);

	if ((void *)(out + 4) > data_end)
		return XDP_DROP;
	out[0] = ctx->ingress_ifindex;
	out[1] = ctx->rx_queue_index;
	out[2] = data_end - data;
	out[3] = meta == data;
	return ctx->ingress_ifindex * 100 + ctx->rx_queue_index;
}

char LICENSE[] SEC("license") = "GPL";
