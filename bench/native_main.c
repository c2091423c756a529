/*
 * Native harness of the benchmark suite: runs one program of bench/, compiled
 * for the host with native_shim.h, as `bpftool prog run` runs it in the kernel.
 *
 *   clang -O2 -I bench -DBENCH_ENTRY=fnv1a bench/native_main.c bench/fnv1a.c -o fnv1a
 *   ./fnv1a PACKET_FILE RUNS_PER_SAMPLE SAMPLES
 *
 * The packet is copied once into a 4096-byte frame at 256 bytes of headroom
 * (as BPF_PROG_TEST_RUN lays out an XDP frame) and reused by every run, as the
 * kernel reuses its test buffer. Each sample times RUNS_PER_SAMPLE runs with
 * clock_gettime(CLOCK_MONOTONIC) and prints its mean; the first run's return
 * value is printed first:
 *
 *   result 2
 *   sample 41.25 ns/run
 *   ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "native_shim.h"

#ifndef BENCH_ENTRY
#error "compile with -DBENCH_ENTRY=<the program's function>"
#endif

int BENCH_ENTRY(struct xdp_md *ctx);

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PACKET_FILE RUNS_PER_SAMPLE SAMPLES\n", argv[0]);
		return 2;
	}
	static __u8 frame[4096] __attribute__((aligned(64)));
	enum { headroom = 256, max_packet = 4096 - 256 - 320 };
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	size_t length = fread(frame + headroom, 1, max_packet, f);
	fclose(f);
	long runs = atol(argv[2]), samples = atol(argv[3]);
	if (runs < 1 || samples < 1) {
		fprintf(stderr, "runs and samples must be at least 1\n");
		return 2;
	}

	struct xdp_md ctx = {
		.data = (uintptr_t)(frame + headroom),
		.data_end = (uintptr_t)(frame + headroom + length),
		.data_meta = (uintptr_t)(frame + headroom),
		.ingress_ifindex = 1,
	};
	/* The context is the program's only view of the world: hide it from the
	 * optimiser so that every run really runs. */
	struct xdp_md *volatile context = &ctx;
	volatile __u32 sink = 0;

	printf("result %u\n", (__u32)BENCH_ENTRY(context));
	for (long i = 0; i < runs; i++) /* warm up */
		sink += BENCH_ENTRY(context);
	for (long s = 0; s < samples; s++) {
		double start = now_ns();
		for (long i = 0; i < runs; i++)
			sink += BENCH_ENTRY(context);
		double elapsed = now_ns() - start;
		printf("sample %.3f ns/run\n", elapsed / (double)runs);
	}
	return sink == 0x12345678 ? 3 : 0;
}
