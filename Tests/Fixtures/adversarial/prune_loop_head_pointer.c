// @class pruning
// @inputs 64:030000000000000005 64:020000000000000005 64:01
/*
 * A loop whose head sees r6 as an unknown number on the first iteration and
 * as a stack pointer on later ones; the body reads through r6 (a slot never
 * written) unless it is 5. Comparing states at the loop head must not take
 * the pointer for a number. Packet byte 0 is the iteration count, bytes
 * 8..15 the first r6.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 24;"
	"if r4 > r3 goto 9f;"
	"r8 = *(u8 *)(r2 + 0);"
	"r8 &= 3;"
	"r6 = *(u64 *)(r2 + 8);"
	"r0 = *(u64 *)(r2 + 16);"
"1:"
	"if r8 == 0 goto 8f;"
	"r8 += -1;"
	"if r6 == 5 goto 2f;"
	"r7 = *(u64 *)(r6 + 0);"
	"r0 += r7;"
"2:"
	"r6 = r10;"
	"r6 += -200;"
	"goto 1b;"
"8:"
	"*(u64 *)(r2 + 0) = r0;"
"9:"
	"exit;"
	::: __clobber_all);
}
