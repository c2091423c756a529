// @class pruning
// @inputs 64:00 64:01
/*
 * prune_pointer_vs_scalar with the pointer path first in program order, so a
 * depth-first verifier sees it first or second depending on its edge order:
 * one of the two files tests each order.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r5 = *(u8 *)(r2 + 0);"
	"r6 = r10;"
	"r6 += -384;"
	"if r5 != 0 goto 1f;"
	"r5 = 1;"
	"goto 2f;"
"1:"
	"r6 = *(u64 *)(r2 + 0);"
	"r5 = 1;"
"2:"
	"r0 = *(u64 *)(r6 + 8);"
	"r7 = *(u64 *)(r6 + 120);"
	"*(u64 *)(r2 + 0) = r7;"
"9:"
	"exit;"
	::: __clobber_all);
}
