// SPDX-License-Identifier: GPL-2.0
/*
 * Global data and subprograms: a read-only configuration (.rodata), a
 * counter with an initial value (.data), statistics starting at zero (.bss),
 * string literals (.rodata.str1.1, traced with bpf_trace_printk), and non-inlined functions, static and
 * global, called from the program. The program stamps a tag and a running
 * packet number into the frame after the Ethernet header and returns a mix of
 * the bytes it summed and the packet number.
 */
#include "common.h"

const volatile __u32 stride = 3;          /* .rodata */
const volatile __u8 tag_length = 4;       /* .rodata */
__u32 packet_number = 100;                /* .data   */
__u64 bytes_seen;                         /* .bss    */
__u32 last_sum;                           /* .bss    */

static __attribute__((noinline)) __u32 sum_every(const __u8 *p, const void *end, __u32 step)
{
	__u32 sum = 0;
	for (int i = 0; i < 64; i++) {
		if ((void *)(p + i * step + 1) > end)
			break;
		sum += p[i * step];
	}
	return sum;
}

static __attribute__((noinline)) int stamp(__u8 *p, const void *end, const char *tag, __u32 number)
{
	if ((void *)(p + 8) > end)
		return -1;
	for (int i = 0; i < 4; i++)
		p[i] = i < tag_length ? tag[i] : 0;
	p[4] = number >> 24;
	p[5] = number >> 16;
	p[6] = number >> 8;
	p[7] = number;
	return 0;
}

/* A global function: the kernel verifies it on its own, so it takes scalars only. */
__attribute__((noinline)) __u32 mix(__u32 sum, __u32 number)
{
	return (sum * 31 + number) & 0xffff;
}

SEC("xdp")
int global_data(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *payload = (__u8 *)data + sizeof(struct ethhdr);

	if ((void *)payload > data_end)
		return XDP_DROP;
	bytes_seen += data_end - data;
	last_sum = sum_every(payload, data_end, stride);
	if (stamp(payload, data_end, "BPFK", packet_number++) < 0)
		return XDP_PASS;
	/* A literal format (not bpf_printk's static array) lands in .rodata.str1.1. */
	bpf_trace_printk("packet %u sum %u\n", sizeof("packet %u sum %u\n"), packet_number - 1, last_sum);
	return mix(last_sum, packet_number);
}

char LICENSE[] SEC("license") = "GPL";
