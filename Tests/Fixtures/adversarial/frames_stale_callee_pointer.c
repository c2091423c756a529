// @class frames
// @inputs 64
/*
 * A callee two calls deep returns a pointer into its own frame, which its
 * caller passes back up. Another call chain then puts a different function's
 * frame at that depth, under a caller with a frame of another size; that
 * function writes a slot and reads it back through the stale pointer. A verifier that names frames by
 * their depth takes the read for a read of written stack; an engine whose
 * frames are laid out per function (their sizes differ along the two
 * chains) then reads whatever its stack held. The read must give what the
 * interpreter's frame at that depth holds, or the program must be refused
 * (the kernel refuses returning a stack pointer).
 */
#include "adversarial.h"

__subprog int leak_frame(void)
{
	asm volatile (
	"r1 = 0x1111;"
	"*(u64 *)(r10 - 8) = r1;"
	"r0 = r10;"
	"r0 += -8;"
	"exit;"
	::: __clobber_all);
}

__subprog int middle(void)
{
	asm volatile (
	"r1 = 0x4444;"
	"*(u64 *)(r10 - 64) = r1;"
	"*(u64 *)(r10 - 128) = r1;"
	"call leak_frame;"
	"exit;"
	::: __clobber_all);
}

/* At depth 2 again, under a caller whose frame has another size: writes its
 * slot -16, then reads through the stale pointer (r1) the slot the verifier
 * takes for that same slot of the frame at depth 2. */
__subprog int other(void)
{
	asm volatile (
	"r2 = 0x3333;"
	"*(u64 *)(r10 - 16) = r2;"
	"r0 = *(u64 *)(r1 - 8);"
	"exit;"
	::: __clobber_all);
}

__subprog int middle2(void)
{
	asm volatile (
	"r2 = 0x2222;"
	"*(u64 *)(r10 - 8) = r2;"
	"call other;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	"call middle;"
	"r1 = r0;"
	"call middle2;"
	"r7 = r0;"
	"r1 = r6;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"*(u64 *)(r2 + 0) = r7;"
"9:"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}
