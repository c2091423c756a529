// SPDX-License-Identifier: GPL-2.0
/*
 * Compute kernels over a buffer, in the shapes C takes, each twice: as xdp
 * (the packet between data and data_end, a constant cap on the loop, as
 * the kernel's verifier needs) and as mem (r1 = the buffer, r2 = its
 * length, as uBPF and llvmbpf run programs; the loops run to the length).
 *   bytes:    FNV-1a one byte at a time
 *   words:    xor of 4-byte words, `i + 4 <= len` (clang tests a copy of
 *             i moved by 4 and reads at i: linked scalars)
 *   crc32:    table-less bitwise CRC-32
 *   bsort:    bubble sort of up to 16 bytes copied (xored) to the stack
 *   tokens:   a branchy tokenizer (byte classes, a state, counters)
 *   checksum: 16-bit one's-complement sum with a tail byte, folded
 * The verifier proves every access of each, and termination
 * (ComputeLoopTests).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define CAP 1536

/* ---- bytes ---- */

SEC("mem") u64 bytes_mem(u8 *buf, u64 len)
{
	u64 h = 0xcbf29ce484222325ULL;
	for (u64 i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 32);
}

SEC("xdp") int bytes_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u64 h = 0xcbf29ce484222325ULL;
	for (u32 i = 0; i < CAP; i++) {
		if (data + i + 1 > end)
			break;
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	return (u32)(h ^ (h >> 32));
}

/* ---- words ---- */

SEC("mem") u64 words_mem(u8 *buf, u64 len)
{
	u32 x = 0;
	for (u64 i = 0; i + 4 <= len; i += 4)
		x ^= *(u32 *)(buf + i);
	return x;
}

SEC("xdp") int words_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u32 x = 0;
	for (u32 i = 0; i < CAP; i += 4) {
		if (data + i + 4 > end)
			break;
		x ^= *(u32 *)(data + i);
	}
	return x;
}

/* ---- crc32 ---- */

static __always_inline u32 crc_byte(u32 crc, u8 b)
{
	crc ^= b;
	for (int k = 0; k < 8; k++)
		crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	return crc;
}

SEC("mem") u64 crc32_mem(u8 *buf, u64 len)
{
	u32 crc = 0xffffffff;
	for (u64 i = 0; i < len; i++)
		crc = crc_byte(crc, buf[i]);
	return ~crc;
}

SEC("xdp") int crc32_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u32 crc = 0xffffffff;
	for (u32 i = 0; i < CAP; i++) {
		if (data + i + 1 > end)
			break;
		crc = crc_byte(crc, data[i]);
	}
	return ~crc;
}

/* ---- bsort ---- */

#define N 16

static __always_inline u64 sort_and_sum(u8 *a, u32 n)
{
	for (u32 i = 0; i < N; i++) {
		if (i + 1 >= n)
			break;
		for (u32 j = 0; j + 1 < n - i && j < N - 1; j++) {
			if (a[j] > a[j + 1]) {
				u8 t = a[j];
				a[j] = a[j + 1];
				a[j + 1] = t;
			}
		}
	}
	u64 sum = 0;
	for (u32 i = 0; i < N; i++)
		sum = sum * 31 + a[i];
	return sum;
}

SEC("mem") u64 bsort_mem(u8 *buf, u64 len)
{
	u8 a[N] = {};
	u32 n = 0;
	for (u64 i = 0; i < len && i < N; i++)
		a[n++] = buf[i] ^ 0x5a;
	return sort_and_sum(a, n);
}

SEC("xdp") int bsort_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u8 a[N] = {};
	u32 n = 0;
	for (u32 i = 0; i < N; i++) {
		if (data + i + 1 > end)
			break;
		a[n++] = data[i] ^ 0x5a;
	}
	return (u32)sort_and_sum(a, n);
}

/* ---- tokens ---- */

enum { IDLE, WORD, NUMBER };

struct counts {
	u32 state, words, numbers, other, value;
};

static __always_inline void token_step(struct counts *c, u8 b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) {
		if (c->state != WORD)
			c->words++;
		c->state = WORD;
	} else if (b >= '0' && b <= '9') {
		if (c->state != NUMBER) {
			c->numbers++;
			c->value = 0;
		}
		c->state = NUMBER;
		c->value = c->value * 10 + (b - '0');
	} else if (b == ' ' || b == '\n' || b == '\t') {
		c->state = IDLE;
	} else {
		c->other++;
		c->state = IDLE;
	}
}

SEC("mem") u64 tokens_mem(u8 *buf, u64 len)
{
	struct counts c = {};
	for (u64 i = 0; i < len; i++)
		token_step(&c, buf[i]);
	return (u64)c.words << 48 | (u64)c.numbers << 32 | c.other << 16 | (c.value & 0xffff);
}

SEC("xdp") int tokens_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct counts c = {};
	for (u32 i = 0; i < CAP; i++) {
		if (data + i + 1 > end)
			break;
		token_step(&c, data[i]);
	}
	return c.words << 24 ^ c.numbers << 16 ^ c.other << 8 ^ c.value;
}

/* ---- checksum ---- */

static __always_inline u32 fold(u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

SEC("mem") u64 checksum_mem(u8 *buf, u64 len)
{
	u64 sum = 0, i = 0;
	for (; i + 2 <= len; i += 2)
		sum += *(u16 *)(buf + i);
	if (i < len)
		sum += buf[i];
	return fold(sum);
}

SEC("xdp") int checksum_xdp(struct xdp_md *ctx)
{
	u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u64 sum = 0;
	u32 i = 0;
	for (; i < CAP; i += 2) {
		if (data + i + 2 > end)
			break;
		sum += *(u16 *)(data + i);
	}
	if (i < CAP && data + i + 1 <= end)
		sum += data[i];
	return fold(sum);
}

char LICENSE[] SEC("license") = "GPL";
