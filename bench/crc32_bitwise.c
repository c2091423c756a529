// SPDX-License-Identifier: GPL-2.0
/*
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) over the first
 * 256 bytes of the packet, bit by bit without a table: eight rounds of
 * `crc = (crc >> 1) ^ ((crc & 1) * POLY)` per byte, a chain of and, multiply,
 * shift and xor, which clang -O2 turns into selects (`t = POLY; if (crc & 1)
 * == 0 then t = 0`). Returns the CRC, as zlib's crc32() computes it.
 * Input: 256 bytes or more.
 *
 * (The mask form `-(crc & 1) & POLY` becomes shift pairs that the kernel's
 * verifier forks on at every bit, and it gives up after a million
 * instructions; the multiply form loads.)
 */
#include "bench.h"

#define BYTES 256

SEC("xdp")
int crc32_bitwise(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *data_end = (void *)(long)ctx->data_end;
	if (!IN_PACKET(data, BYTES, data_end))
		return XDP_DROP;
	__u32 crc = 0xffffffff;
	for (__u32 i = 0; i < BYTES; i++) {
		crc ^= data[i];
#pragma clang loop unroll(full)
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) * 0xEDB88320);
	}
	return ~crc;
}

char LICENSE[] SEC("license") = "GPL";
