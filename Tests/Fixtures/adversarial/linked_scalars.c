// @class linked-scalars
// @type mem
// @inputs 0 16:00 64:0035 64:01003e 64:0200000000000000feffffffffffffff
// @inputs 64:03000000000000000100000001000000 64:04000000000000000500000001000000
// @inputs 64:0500 64:053c 64:0601 64:06013f
/*
 * Linked scalars (mem programs): a copy of a number moved by a constant,
 * compared with the length, bounds the number, but only while the link
 * holds and only by what the comparison says. Every case reads at r1 + r3
 * after testing r4, which is (or was) r3 plus a constant; each read must
 * stay checked and fail on every engine as on the interpreter.
 * Byte 0 picks the case; byte 1, byte 2 and the 8 bytes at 8 are operands.
 *   0: r3 = byte 1 + 8, r4 = r3 + 3 <= len, then a 4-byte read at r3
 *      (off by one)
 *   1: r4 = r3 + 4, then r3 overwritten by a load, r4 <= len
 *   2: r3 unknown (-2), r4 = r3 + 4 wraps to 2 <= len
 *   3: r4 = r3, w4 += 4 (a 32-bit add: r3 = 2^32 + 1, w4 = 5), r4 < len
 *   4: w4 = w3 of an r3 that does not fit (2^32 + 5)
 *   5: r4 = r3 + 4, then r3 += r3, then r4 <= len (byte 1 = 60: 120)
 *   6: r4 = r3 + 1 <= len, r6 = r4 copied, r4 += 1 (r6's link moved
 *      apart), then r6 + 1 <= len used for a 2-byte read at r3 + 1
 */
#include "adversarial.h"

SEC("mem")
__naked int attack(void *buf)
{
	asm volatile (
	"r0 = 0;"
	"if r2 < 16 goto 99f;"
	"r6 = *(u8 *)(r1 + 0);"
	"r7 = *(u8 *)(r1 + 1);"
	"r8 = *(u64 *)(r1 + 8);"
	"if r6 != 0 goto 1f;"
	"r3 = r7;"
	"r3 += 8;"
	"r4 = r3;"
	"r4 += 3;"
	"if r4 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u32 *)(r5 + 0);"
	"goto 99f;"
"1:"
	"if r6 != 1 goto 2f;"
	"r3 = r7;"
	"r4 = r3;"
	"r4 += 4;"
	"r3 = *(u8 *)(r1 + 2);"
	"if r4 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u32 *)(r5 + 0);"
	"goto 99f;"
"2:"
	"if r6 != 2 goto 3f;"
	"r3 = r8;"
	"r4 = r3;"
	"r4 += 4;"
	"if r4 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u8 *)(r5 + 0);"
	"goto 99f;"
"3:"
	"if r6 != 3 goto 4f;"
	"r3 = r8;"
	"r4 = r3;"
	"w4 += 4;"
	"if r4 < 4 goto 99f;"
	"if r4 >= r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u8 *)(r5 + 0);"
	"goto 99f;"
"4:"
	"if r6 != 4 goto 5f;"
	"r3 = r8;"
	"w4 = w3;"
	"if r4 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u8 *)(r5 + 0);"
	"goto 99f;"
"5:"
	"if r6 != 5 goto 6f;"
	"r3 = r7;"
	"r4 = r3;"
	"r4 += 4;"
	"r3 += r3;"
	"if r4 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u32 *)(r5 + 0);"
	"goto 99f;"
"6:"
	"r3 = r7;"
	"r4 = r3;"
	"r4 += 1;"
	"r6 = r4;"
	"r4 += 1;"
	"if r6 > r2 goto 99f;"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u16 *)(r5 + 1);"
"99:"
	"exit;"
	::: __clobber_all);
}
