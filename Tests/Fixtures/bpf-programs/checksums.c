// bpf_csum_diff with various sizes and seeds; every result goes into the frame.
#include "../../../examples/common.h"

SEC("xdp")
int checksums(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *out = data + sizeof(struct ethhdr);
	__u32 a[8] = {0x12345678, 0xffffffff, 0x0, 0xdeadbeef, 0x01020304, 0xf0f0f0f0, 0x80000000, 0x7fffffff};
	__u32 b[8] = {0x11111111, 0x22222222, 0x33333333, 0xfedcba98, 0x0, 0xffff0000, 0x0000ffff, 0xabcdef01};

	if ((void *)(out + 10) > data_end)
		return XDP_DROP;
	out[0] = bpf_csum_diff(0, 0, a, 32, 0);
	out[1] = bpf_csum_diff(a, 32, 0, 0, 0);
	out[2] = bpf_csum_diff(a, 8, b, 8, 0);
	out[3] = bpf_csum_diff(a, 4, b, 12, 0x1234);
	out[4] = bpf_csum_diff(0, 0, b, 32, 0xffffffff);
	out[5] = bpf_csum_diff(a, 32, b, 32, 0xabcdef);
	out[6] = bpf_csum_diff(a, 3, 0, 0, 7);
	out[7] = bpf_csum_diff(0, 0, b, 7, 7);
	out[8] = bpf_csum_diff(0, 0, 0, 0, 0x12345);
	out[9] = bpf_csum_diff(a, 4, a, 4, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
