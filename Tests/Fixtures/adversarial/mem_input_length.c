// @class input-length
// @type mem
// @inputs 0 16:08 64:00 64:01 64:020000000000000000ffffffffffffffff 64:030000000000000005000000010000003f
// @inputs 64:040000000000000000100000000000003f 64:053f 64:063f 64:073e 64:093f
/*
 * mem programs: r1 is the input, r2 its length, and the verifier follows
 * r1 against what comparisons with r2 (or with r1 + r2) establish. Each
 * case makes one access one byte past what its comparison allows, or
 * learns from a comparison that does not say what it seems to: every one
 * must stay checked and fail on every engine as on the interpreter.
 * Byte 0 picks the case; byte 1 and the 8 bytes at 8 are operands.
 *   prologue: len - 1 wraps for an empty input (then 0 < len - 1 "holds")
 *   0: a loop with i <= len (reads byte len)
 *   1: i = len - 1 < len, then a 2-byte read at i
 *   2: a signed comparison with len (i = -1)
 *   3: a 32-bit comparison whose 64-bit operand differs (i = 2^32 + 5)
 *   4: i < len learned, then i overwritten by a load
 *   5: i < len learned, then i += i
 *   6: end = r1 + len + 1 taken as the end
 *   7: p + 2 <= r1 + len, then a 2-byte read at p + 1
 *   8: len >= 16 learned, then a read at 16 (a 16-byte input)
 *   9: i < len learned (i = 63 of 64), then a 2-byte read at i
 */
#include "adversarial.h"

SEC("mem")
__naked int attack(void *buf)
{
	asm volatile (
	"r0 = 0;"
	"r3 = r2;"
	"r3 += -1;"
	"r4 = 0;"
	"if r4 >= r3 goto 10f;"
	"r0 = *(u8 *)(r1 + 0);"
"10:"
	"if r2 < 16 goto 99f;"
	"r6 = *(u8 *)(r1 + 0);"
	"r7 = *(u8 *)(r1 + 1);"
	"r8 = *(u64 *)(r1 + 8);"
	"if r6 != 0 goto 1f;"
	"r3 = 0;"
"20:"
	"if r3 > r2 goto 99f;"
	"r4 = r1;"
	"r4 += r3;"
	"r5 = *(u8 *)(r4 + 0);"
	"r0 += r5;"
	"r3 += 1;"
	"goto 20b;"
"1:"
	"if r6 != 1 goto 2f;"
	"r3 = r2;"
	"r3 += -1;"
	"if r3 >= r2 goto 99f;"
	"r4 = r1;"
	"r4 += r3;"
	"r0 = *(u8 *)(r4 + 0);"
	"r5 = *(u16 *)(r4 + 0);"
	"goto 99f;"
"2:"
	"if r6 != 2 goto 3f;"
	"if r8 s>= r2 goto 99f;"
	"r4 = r1;"
	"r4 += r8;"
	"r0 = *(u8 *)(r4 + 0);"
	"goto 99f;"
"3:"
	"if r6 != 3 goto 4f;"
	"if w8 >= w2 goto 99f;"
	"r4 = r1;"
	"r4 += r8;"
	"r0 = *(u8 *)(r4 + 0);"
	"goto 99f;"
"4:"
	"if r6 != 4 goto 5f;"
	"r3 = 5;"
	"if r3 >= r2 goto 99f;"
	"r3 = *(u64 *)(r1 + 8);"
	"r4 = r1;"
	"r4 += r3;"
	"r0 = *(u8 *)(r4 + 0);"
	"goto 99f;"
"5:"
	"if r6 != 5 goto 6f;"
	"r3 = r7;"
	"if r3 >= r2 goto 99f;"
	"r3 += r3;"
	"r4 = r1;"
	"r4 += r3;"
	"r0 = *(u8 *)(r4 + 0);"
	"goto 99f;"
"6:"
	"if r6 != 6 goto 7f;"
	"r3 = r2;"
	"r3 += 1;"
	"r4 = r1;"
	"r4 += r3;"
	"r5 = r1;"
	"r5 += r7;"
	"r3 = r5;"
	"r3 += 1;"
	"if r3 > r4 goto 99f;"
	"r0 = *(u16 *)(r5 + 0);"
	"goto 99f;"
"7:"
	"if r6 != 7 goto 8f;"
	"r4 = r1;"
	"r4 += r2;"
	"r5 = r1;"
	"r5 += r7;"
	"r3 = r5;"
	"r3 += 2;"
	"if r3 > r4 goto 99f;"
	"r0 = *(u16 *)(r5 + 0);"
	"r0 = *(u16 *)(r5 + 1);"
	"goto 99f;"
"8:"
	"if r6 != 8 goto 9f;"
	"r0 = *(u64 *)(r1 + 8);"
	"r0 = *(u8 *)(r1 + 16);"
	"goto 99f;"
"9:"
	"r3 = r7;"
	"if r3 >= r2 goto 99f;"
	"r4 = r1;"
	"r4 += r3;"
	"r0 = *(u8 *)(r4 + 0);"
	"r0 = *(u16 *)(r4 + 0);"
"99:"
	"exit;"
	::: __clobber_all);
}
