// @class overflow
// @inputs 64:0000000000000000f8ffffffffffffff 64:0000000000000000ffffffffffffffff 64:01000000000000000100000001 64:0200000000000000ffffffff 64:0300000000000000fdffffff 64:04000000000000000000000000000080 64:05000000000000000800000000000000
/*
 * Ranges whose arithmetic wraps: r6 in [2^64 - 16, 2^64 - 1] plus 16 wraps
 * to [0, 15] (and must not be taken as [2^64, 2^64 + 15]); a product of two
 * bounded numbers past 2^64; 32-bit additions past 2^32; a subtraction past
 * zero; negation of INT64_MIN; a pointer minus a large number. Each result
 * is a stack offset from r10 - 256. Packet byte 0 picks the case.
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
	"r5 = -16;"
	"if r6 < r5 goto 9f;"
	"r6 += 16;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"r5 = r6;"
	"r5 >>= 32;"
	"r6 &= 0xffffffff;"
	"if r6 > 0x10000 goto 9f;"
	"r5 |= 0x10000;"
	"r5 <<= 20;"
	"r6 *= r5;"
	"r6 *= r5;"
	"if r6 > 300 goto 9f;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"w6 += 0x10;"
	"if r6 > 200 goto 9f;"
	"goto 5f;"
"3:"
	"if r7 != 3 goto 4f;"
	"if r6 > 0xffffffff goto 9f;"
	"w6 += 3;"
	"w6 *= 2;"
	"goto 5f;"
"4:"
	"if r7 != 4 goto 6f;"
	"r6 = -r6;"
	"r5 = -1;"
	"if r6 s> 200 goto 9f;"
	"if r6 s< r5 goto 9f;"
	"goto 5f;"
"6:"
	"r6 &= 0xff;"
	"r8 = r10;"
	"r8 += -256;"
	"r5 = 0x7fffffff;"
	"r5 <<= 32;"
	"r8 -= r5;"
	"r8 -= r5;"
	"r8 -= r5;"
	"r8 += r6;"
	"r0 = *(u8 *)(r8 + 0);"
	"goto 9f;"
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
