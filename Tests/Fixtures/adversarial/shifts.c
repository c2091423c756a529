// @class shifts
// @inputs 64:00000000000000000500000000000000 64:01000000000000000500000000000000 64:02000000000000000500000000000000 64:0300000000000000ffffffffffffffff 64:04000000000000000001000000000000 64:0500000000000000ffffffffffffff7f 64:0600000000000000
/*
 * Bounds after shifts: a shift by the width or more (engines mask the count:
 * r6 <<= 64 leaves r6, w6 <<= 32 leaves w6, r6 >>= r5 with r5 = 65 shifts by
 * one), arithmetic shifts of negative numbers, a left shift that pushes bits
 * out of the top, and a shift by a register only bounded on one side.
 * Packet byte 0 picks the case; bytes 8..15 are r6. The result is an offset
 * from r10 - 256.
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
	"r6 &= 0xff;"
	"r6 += 200;"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"r5 = 64;"
	"r6 <<= r5;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"r5 = 32;"
	"w6 <<= w5;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"r5 = 65;"
	"r6 >>= r5;"
	"goto 5f;"
"3:"
	"r6 = *(u64 *)(r2 + 8);"
	"if r7 != 3 goto 4f;"
	"r6 s>>= 56;"
	"r6 += 128;"
	"goto 5f;"
"4:"
	"if r7 != 4 goto 6f;"
	"r6 <<= 56;"
	"r6 >>= 56;"
	"goto 5f;"
"6:"
	"if r7 != 5 goto 7f;"
	"r6 <<= 1;"
	"r6 >>= 55;"
	"goto 5f;"
"7:"
	"r5 = *(u8 *)(r2 + 9);"
	"if r5 < 3 goto 9f;"
	"r6 = 0x800;"
	"r6 >>= r5;"
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
