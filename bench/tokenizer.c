// SPDX-License-Identifier: GPL-2.0
/*
 * A branchy tokenizer over the TCP payload (up to 1,024 bytes): classifies
 * each byte as letter, digit, space or punctuation with a chain of range
 * compares, counts words, numbers and punctuation marks, and hashes the
 * token boundaries. Returns the counts and the hash folded into 32 bits.
 * Input: 54 bytes of headers and any payload.
 */
#include "bench.h"

SEC("xdp")
int tokenizer(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *data_end = (void *)(long)ctx->data_end;
	__u32 words = 0, numbers = 0, marks = 0, hash = 2166136261u;
	int state = 0; /* 0 between tokens, 1 in a word, 2 in a number */
	for (__u32 i = 54; i < 54 + 1024; i++) {
		__u8 *p = data + i;
		if (!IN_PACKET(p, 1, data_end))
			break;
		__u8 c = *p;
		int kind;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
			kind = 1;
		else if (c >= '0' && c <= '9')
			kind = 2;
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			kind = 0;
		else
			kind = 3;
		if (kind != state) {
			if (kind == 1)
				words++;
			else if (kind == 2)
				numbers++;
			else if (kind == 3)
				marks++;
			hash = (hash ^ i) * 16777619u;
		}
		state = kind == 3 ? 0 : kind;
	}
	return (words << 20) ^ (numbers << 10) ^ marks ^ hash;
}

char LICENSE[] SEC("license") = "GPL";
