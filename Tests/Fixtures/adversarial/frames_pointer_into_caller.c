// @class frames
// @inputs 64
/*
 * The caller passes a pointer to its frame; the callee writes one slot and
 * reads slots of the caller's frame that nobody wrote, then a slot of its own
 * frame it never wrote. Every value must be the interpreter's (the stack
 * starts zeroed), whatever the engine's frame layout.
 */
#include "adversarial.h"

__subprog int peek(void)
{
	asm volatile (
	"r2 = 0x55;"
	"*(u64 *)(r1 + 0) = r2;"
	"r0 = *(u64 *)(r1 - 64);"
	"r3 = *(u64 *)(r1 - 440);"
	"r0 ^= r3;"
	"r3 = *(u64 *)(r10 - 256);"
	"r0 ^= r3;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	"r1 = r10;"
	"r1 += -8;"
	"call peek;"
	"r7 = r0;"
	"r1 = r6;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"*(u64 *)(r2 + 0) = r7;"
"9:"
	"r0 = *(u64 *)(r10 - 8);"
	"exit;"
	::: __clobber_all);
}
