// bpf_trace_printk's return value (the formatted length) for the supported conversions.
#include "../../../examples/common.h"

SEC("xdp")
int trace_lengths(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__s32 *out = data + sizeof(struct ethhdr);
	char name[] = "bpfkit";
	char f0[] = "plain text";
	char f1[] = "%d %i %u";
	char f2[] = "%x %ld %lu";
	char f3[] = "%lx %lld %llu";
	char f4[] = "%llx %c %%";
	char f5[] = "[%s] %5d|%-4u|";
	char f6[] = "%08x %+d % d";
	char bad1[] = "%q";
	char bad2[] = "%d %d %d %d";
	char bad3[] = "%n";

	if ((void *)(out + 10) > data_end)
		return XDP_DROP;
	out[0] = bpf_trace_printk(f0, sizeof(f0));
	out[1] = bpf_trace_printk(f1, sizeof(f1), -5, -6, -7);
	out[2] = bpf_trace_printk(f2, sizeof(f2), 0xabc, -1234567890123ll, 77);
	out[3] = bpf_trace_printk(f3, sizeof(f3), 0x123456789all, -9ll, 18446744073709551615ull);
	out[4] = bpf_trace_printk(f4, sizeof(f4), 0xfedcba9876543210ull, 'Z');
	out[5] = bpf_trace_printk(f5, sizeof(f5), name, 42, 7);
	out[6] = bpf_trace_printk(f6, sizeof(f6), 0xbeef, 5, 6);
	out[7] = bpf_trace_printk(bad1, sizeof(bad1), 1);
	out[8] = bpf_trace_printk(bad2, sizeof(bad2), 1, 2, 3);
	out[9] = bpf_trace_printk(bad3, sizeof(bad3), 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
