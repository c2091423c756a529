// @class frames
// @inputs 64
// @refused lies wholly outside the stack
/*
 * A callee reads 444 bytes above its caller's frame through the pointer it
 * was passed: above the entry frame, outside the stack. What lies there depends on the engine's
 * layout (the host's stack above a JIT's frame, whatever heap block follows
 * the interpreter's stack), so the outcome would be an accident of layout.
 * The verifier refuses it, naming the instruction, as the kernel does.
 */
#include "adversarial.h"

__subprog int peek(void)
{
	asm volatile (
	"r0 = 0;"
	"r3 = *(u32 *)(r1 + 500);"
	"r0 ^= r3;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = r10;"
	"r1 += -56;"
	"call peek;"
	"exit;"
	::: __clobber_all);
}
