// @class packet-ranges
// @inputs 64 200
// @refused lies wholly before the packet
/*
 * A callee reads 500 bytes below a packet pointer it was passed (8 bytes
 * past data): 492 bytes before the packet, below the most metadata an XDP
 * packet can carry before data. No packet byte is there; what is depends
 * on where each engine put the packet (another region of the run, or
 * none), so the outcome would be an accident of layout: a differential
 * campaign saw the interpreter refuse such a read and an emulated JIT
 * complete it. The verifier refuses it, naming the instruction, as it
 * refuses accesses wholly outside the stack or the context.
 */
#include "adversarial.h"

__subprog int peek(void)
{
	asm volatile (
	"r0 = 0;"
	"r3 = *(u64 *)(r1 - 500);"
	"r0 ^= r3;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r0 = 0;"
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 1f;"
	"r1 = r2;"
	"r1 += 8;"
	"call peek;"
	"1:"
	"exit;"
	::: __clobber_all);
}
