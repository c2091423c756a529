// Global data across tail calls: stages chained through a program array share
// .data/.bss/.rodata variables (addresses loaded with ld_imm64), a hash map of
// per-protocol byte counts and an array of stage visits; a subprogram reads the
// globals too, and a pointer to a global goes to a helper (bpf_map_update_elem's value).
#include "../../../examples/common.h"

enum { CLASSIFY, COUNT, STAMP, SLOTS = 4 };

const volatile __u32 salt = 0x9e3779b9;    /* .rodata */
__u32 sequence = 7;                         /* .data   */
__u64 total_bytes;                          /* .bss    */
__u32 last_proto;                           /* .bss    */
__u8 history[16];                           /* .bss    */

struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } per_proto SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, SLOTS); } visits SEC(".maps");

int classify(struct xdp_md *ctx);
int count(struct xdp_md *ctx);
int stamp(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} stages SEC(".maps") = {
	.values = { [CLASSIFY] = (void *)&classify, [COUNT] = (void *)&count, [STAMP] = (void *)&stamp },
};

static __always_inline void visit(__u32 stage)
{
	__u32 *n = bpf_map_lookup_elem(&visits, &stage);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __attribute__((noinline)) __u32 mix(__u32 value)
{
	return (value ^ salt) * 31 + sequence;
}

SEC("xdp")
int entry(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ethhdr) > data_end)
		return XDP_DROP;
	total_bytes += data_end - data;
	sequence++;
	bpf_tail_call(ctx, &stages, CLASSIFY);
	return XDP_ABORTED;
}

SEC("xdp")
int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	visit(CLASSIFY);
	last_proto = eth->h_proto;
	history[sequence & 15] = (__u8)last_proto;
	bpf_tail_call(ctx, &stages, last_proto == bpf_htons(0x0806) ? SLOTS - 1 : COUNT);
	return XDP_PASS;   /* the empty slot falls through */
}

SEC("xdp")
int count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = last_proto;
	visit(COUNT);
	__u64 *bytes = bpf_map_lookup_elem(&per_proto, &key);
	if (bytes)
		__sync_fetch_and_add(bytes, data_end - data);
	else
		bpf_map_update_elem(&per_proto, &key, &total_bytes, BPF_NOEXIST);
	bpf_tail_call(ctx, &stages, STAMP);
	return XDP_ABORTED;
}

SEC("xdp")
int stamp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *out = data + sizeof(struct ethhdr);
	visit(STAMP);
	if ((void *)(out + 4) > data_end)
		return XDP_TX;
	out[0] = mix(last_proto);
	out[1] = sequence;
	out[2] = (__u32)total_bytes;
	out[3] = history[(sequence - 1) & 15];
	return sequence & 1 ? XDP_PASS : XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
