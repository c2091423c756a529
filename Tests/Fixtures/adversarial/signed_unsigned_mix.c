// @class signed-unsigned
// @inputs 64:000000000000000005 64:0000000000000000f0ffffffffffffff 64:0100000000000000f8ffffffffffffff 64:0200000000000000fe01000000000000 64:03000000000000000000000000000080
/*
 * Bounds from signed and unsigned comparisons mixed (the kernel's
 * CVE-2017-16995 and CVE-2017-17862 class): an upper bound by a signed test
 * only (negative values pass), a lower bound by an unsigned test only,
 * `jsge` against a negative number then an unsigned use, and INT64_MIN.
 * Packet byte 0 picks the case; bytes 8..15 are r6, used as an offset from
 * r10 - 256.
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
	"if r6 s> 200 goto 9f;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"if r6 < 8 goto 9f;"
	"if r6 s> 200 goto 9f;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"if r6 s< -8 goto 9f;"
	"if r6 > 200 goto 9f;"
	"goto 5f;"
"3:"
	"r5 = -256;"
	"if r6 s< r5 goto 9f;"
	"if r6 s> 200 goto 9f;"
"5:"
	"r8 = r10;"
	"r8 += -256;"
	"r8 += r6;"
	"r0 = *(u8 *)(r8 + 0);"
	"*(u8 *)(r2 + 1) = r0;"
"9:"
	"exit;"
	::: __clobber_all);
}
