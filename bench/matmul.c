// SPDX-License-Identifier: GPL-2.0
/*
 * 8 x 8 matrix multiply of 32-bit words: A is read from the packet after
 * the Ethernet header, B is A transposed, C = A * B on the stack, a chain of
 * multiply-adds. Returns a fold of C's elements mixed by position.
 * Input: 14 + 256 bytes or more.
 */
#include "bench.h"

#define N 8

SEC("xdp")
int matmul(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *m = data + 14;
	if (!IN_PACKET(m, N * N * 4, data_end))
		return XDP_DROP;

	__u32 a[N * N];
	for (int i = 0; i < N * N; i++)
		a[i] = m[i];
	__u64 fold = 0;
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < N; j++) {
			__u32 sum = 0;
#pragma clang loop unroll(full)
			for (int k = 0; k < N; k++)
				sum += a[i * N + k] * a[j * N + k];
			fold = fold * 31 + sum;
		}
	}
	return fold64(fold);
}

char LICENSE[] SEC("license") = "GPL";
