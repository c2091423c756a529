// SPDX-License-Identifier: GPL-2.0
/*
 * FNV-1a (64-bit) over the whole packet, one byte at a time (the suite runs
 * it over 1 KiB and over 1,500 bytes). Returns the hash folded to 32 bits.
 */
#include "bench.h"

SEC("xdp")
int fnv1a(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *data_end = (void *)(long)ctx->data_end;
	__u64 hash = 0xcbf29ce484222325ULL;
	for (__u32 i = 0; i < 1514; i++) {
		__u8 *byte = data + i;
		if (!IN_PACKET(byte, 1, data_end))
			break;
		hash ^= *byte;
		hash *= 0x100000001b3ULL;
	}
	return fold64(hash);
}

char LICENSE[] SEC("license") = "GPL";
