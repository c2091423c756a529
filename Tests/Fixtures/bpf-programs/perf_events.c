// bpf_perf_event_output from XDP: an event with the packet length and a
// marker, followed by the packet's first 16 bytes (BPF_F_CTXLEN_MASK). The
// first payload byte picks the CPU slot: 0xff for BPF_F_CURRENT_CPU.
// Returns 100 on success, else the positive errno.
#include "../../../examples/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct event {
	__u32 length;
	__u32 marker;
};

SEC("xdp")
int perf_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data + sizeof(struct ethhdr);
	if ((void *)(p + 1) > data_end)
		return XDP_PASS;
	__u64 index = p[0] == 0xff ? BPF_F_CURRENT_CPU : p[0];
	struct event ev = { .length = data_end - data, .marker = 0xfeedbeef };
	long r = bpf_perf_event_output(ctx, &events, index | ((__u64)16 << 32), &ev, sizeof(ev));
	return r == 0 ? 100 : -r;
}

char LICENSE[] SEC("license") = "GPL";
