// @class bounds-32-bit
// @inputs 64:000000000000000003000000 64:000000000000000003000000ffffffff 64:000000000000000003000000010000 64:01000000000000000500000000000080
/*
 * A bound learned by a 32-bit comparison used as a 64-bit offset (the
 * kernel's CVE-2020-8835 class): `if w6 > 7` says nothing of r6's upper half.
 * r6 is the packet's bytes 8..15; byte 0 picks an unsigned or a signed
 * 32-bit check. The stack read at r10 - 8 + r6 must stay checked unless r6
 * is bounded on 64 bits.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 16;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r6 = *(u64 *)(r2 + 8);"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"if w6 > 7 goto 9f;"
	"goto 2f;"
"1:"
	"if w6 s> 7 goto 9f;"
	"if w6 s< 0 goto 9f;"
"2:"
	"r8 = r10;"
	"r8 += -8;"
	"r8 += r6;"
	"r0 = *(u8 *)(r8 + 0);"
	"*(u8 *)(r2 + 1) = r0;"
"9:"
	"exit;"
	::: __clobber_all);
}
