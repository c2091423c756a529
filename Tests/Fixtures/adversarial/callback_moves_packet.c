// @class callbacks
// @inputs 64
/*
 * The caller checks 64 bytes of packet, then a bpf_loop callback shrinks the
 * packet by 32 bytes (bpf_xdp_adjust_tail through the context it finds in
 * its callback context). The caller then reads byte 60 through its old
 * pointer: past the packet's end now, an error on the interpreter. The
 * verifier must not carry the caller's packet range across the loop (the
 * continuation does not see the callback's paths), so no engine reads it.
 */
#include "adversarial.h"

__subprog int shrink(void)
{
	asm volatile (
	"r1 = *(u64 *)(r2 + 0);"
	"r2 = -32;"
	"call %[bpf_xdp_adjust_tail];"
	"r0 = 1;"
	"exit;"
	:
	: __imm(bpf_xdp_adjust_tail)
	: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"*(u64 *)(r10 - 8) = r1;"
	"r6 = *(u32 *)(r1 + 0);"
	"r7 = *(u32 *)(r1 + 4);"
	"r2 = r6;"
	"r2 += 64;"
	"if r2 > r7 goto out;"
	"r1 = 1;"
	"r2 = %[shrink] ll;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 0;"
	"call %[bpf_loop];"
	"r0 = *(u8 *)(r6 + 60);"
	"exit;"
	"out:"
	"r0 = 0;"
	"exit;"
	:
	: __imm_addr(shrink), __imm(bpf_loop)
	: __clobber_all);
}
