// @class pruning
// @inputs 64:00 64:01 64:02
/*
 * At a join, r6 holds an unknown number on one path and a pointer into the
 * stack on the other, every other register alike. A verifier that takes the
 * pointer state as included in the number state prunes the pointer path:
 * its reads of stack slots never written are not seen, the program is
 * thought to read only stack it wrote, and an engine that trusts that
 * leaves the frame uncleared. Packet byte 0 picks the path (0: the number,
 * which falls through; otherwise the pointer).
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
	"r6 = *(u64 *)(r2 + 0);"
	"if r5 != 0 goto 1f;"
	"r5 = 1;"
	"goto 2f;"
"1:"
	"r6 = r10;"
	"r6 += -256;"
	"r5 = 1;"
"2:"
	"r0 = *(u64 *)(r6 + 0);"
	"r7 = *(u64 *)(r6 + 64);"
	"*(u64 *)(r2 + 0) = r7;"
"9:"
	"exit;"
	::: __clobber_all);
}
