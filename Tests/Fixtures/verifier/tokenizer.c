// SPDX-License-Identifier: GPL-2.0
/*
 * A branchy tokenizer: one pass over the packet (xdp) or the input (mem),
 * each byte classified (letter, digit, space, punctuation, other) by a
 * switch, a state variable (between tokens, in a word, in a number, in a
 * string) and counters. The kind of loop the kernel verifies in about
 * 150 ms; BPFKit's verifier must prove every access and termination
 * within 100 ms (VerifierSpeedTests; docs/PERFORMANCE.md).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { IDLE, WORD, NUMBER, STRING };

static __always_inline __u64 tokenize(__u8 *data, __u8 *end)
{
	__u32 state = IDLE, words = 0, numbers = 0, puncts = 0, strings = 0;
	__u32 length = 0, letters = 0, value = 0, checksum = 0;

	for (__u32 i = 0; i < 512; i++) {
		__u8 *p = data + i;
		if (p + 1 > end)
			break;
		__u8 c = *p;
		__u32 class;
		if (c >= 'a' && c <= 'z')
			class = 0;
		else if (c >= 'A' && c <= 'Z')
			class = 0;
		else if (c >= '0' && c <= '9')
			class = 1;
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			class = 2;
		else if (c == '"')
			class = 3;
		else if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?')
			class = 4;
		else
			class = 5;

		if (state == STRING) {
			if (class == 3) {
				state = IDLE;
				strings++;
			}
			continue;
		}
		switch (class) {
		case 0:
			if (state != WORD) {
				state = WORD;
				words++;
				length = 0;
			}
			length++;
			letters++;
			break;
		case 1:
			if (state == IDLE) {
				state = NUMBER;
				numbers++;
				value = 0;
			}
			value = value * 10 + (c - '0');
			checksum ^= value;
			break;
		case 2:
			state = IDLE;
			break;
		case 3:
			state = STRING;
			break;
		case 4:
			state = IDLE;
			puncts++;
			break;
		default:
			checksum += c;
			break;
		}
	}
	return (__u64)words | (__u64)numbers << 8 | (__u64)puncts << 16 | (__u64)strings << 24 |
	       (__u64)(letters ^ length) << 32 | (__u64)(checksum & 0xffff) << 40 | (__u64)state << 56;
}

SEC("xdp")
int tokenizer(struct xdp_md *ctx)
{
	__u64 r = tokenize((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	return (__u32)(r ^ (r >> 32));
}

#ifndef XDP_ONLY	/* the kernel has no mem programs: -DXDP_ONLY builds the object it loads */
SEC("mem")
int tokenizer_mem(__u8 *buf, __u64 len)
{
	__u64 r = tokenize(buf, buf + len);
	return (__u32)(r ^ (r >> 32));
}
#endif

char LICENSE[] SEC("license") = "GPL";
