// @class callbacks
// @inputs 64
// @refused in a callback
/*
 * The caller hands bpf_loop a context on its stack; the callback writes
 * past it, above the top of the caller's frame. The kernel refuses a stack
 * access outside the frame the pointer points into; inside a callback
 * BPFKit refuses it too.
 */
#include "adversarial.h"

__subprog int scribble(void)
{
	asm volatile (
	"r3 = 0x4141;"
	"*(u64 *)(r2 + 16) = r3;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"r1 = 2;"
	"r2 = %[scribble] ll;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 0;"
	"call %[bpf_loop];"
	"r0 = *(u64 *)(r10 - 8);"
	"exit;"
	:
	: __imm_addr(scribble), __imm(bpf_loop)
	: __clobber_all);
}
