// @class frames
// @inputs 64
/*
 * A callee returns a pointer into its own frame. After it returns, another
 * call chain runs at that depth, then the caller reads through the stale
 * pointer, near it and deep below it (inside the 512 bytes of the frame the
 * pointer was made in). The reads must see what the interpreter's frame at
 * that depth holds, or the program must be refused (the kernel refuses
 * returning a stack pointer).
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

__subprog int deeper(void)
{
	asm volatile (
	"r1 = 0x3333;"
	"*(u64 *)(r10 - 16) = r1;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

__subprog int other(void)
{
	asm volatile (
	"r1 = 0x2222;"
	"*(u64 *)(r10 - 32) = r1;"
	"call deeper;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	"call leak_frame;"
	"r7 = r0;"
	"call other;"
	"r1 = r6;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 32;"
	"if r4 > r3 goto 9f;"
	"r0 = *(u64 *)(r7 + 0);"
	"*(u64 *)(r2 + 0) = r0;"
	"r0 = *(u64 *)(r7 - 24);"
	"*(u64 *)(r2 + 8) = r0;"
	"r0 = *(u64 *)(r7 - 400);"
	"*(u64 *)(r2 + 16) = r0;"
	"r0 = *(u64 *)(r7 - 496);"
	"*(u64 *)(r2 + 24) = r0;"
"9:"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}
