// @class callbacks
// @inputs 64
// @refused must return 0 or 1
/*
 * A bpf_loop callback that returns 2. The kernel's verifier requires a
 * callback's result to be 0 (go on) or 1 (stop); anything else is refused.
 */
#include "adversarial.h"

__subprog int two(void)
{
	asm volatile (
	"r0 = 2;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = 4;"
	"r2 = %[two] ll;"
	"r3 = 0;"
	"r4 = 0;"
	"call %[bpf_loop];"
	"exit;"
	:
	: __imm_addr(two), __imm(bpf_loop)
	: __clobber_all);
}
