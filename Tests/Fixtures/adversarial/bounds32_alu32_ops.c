// @class bounds-32-bit
// @inputs 64:000000000000000080000000 64:01000000000000000700000001 64:0200000000000000ffffffffffffffff 64:0300000000000000f0ffffff
/*
 * 32-bit ALU results and their 64-bit bounds (the kernel's CVE-2021-3490
 * class, 32-bit AND/OR/XOR bounds): w6 &= 0x7f, w6 |= 1, w6 ^= 0x3f,
 * w6 += 0x7fffffff (wraps on 32 bits, zero-extended), w6 = w6 (upper half
 * cleared) then r6 -= 0x80000000. Each result is used as a stack offset
 * after a 64-bit check that is right only if the 32-bit result was
 * zero-extended exactly. Packet byte 0 picks the case; bytes 8..15 are r6.
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
	"w6 &= 0x7f;"
	"w6 |= 1;"
	"w6 ^= 0x3f;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"w6 += 0x7fffffff;"
	"if r6 > 0x7fffffff goto 9f;"
	"if r6 < 0x7ffffe00 goto 9f;"
	"r6 -= 0x7ffffe00;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"w6 = w6;"
	"r6 -= 0x7fffffff;"
	"if r6 s> 255 goto 9f;"
	"if r6 s< 0 goto 9f;"
	"goto 5f;"
"3:"
	"w6 = -w6;"
	"if w6 > 400 goto 9f;"
"5:"
	"r8 = r10;"
	"r8 += -512;"
	"r8 += r6;"
	"r0 = *(u8 *)(r8 + 0);"
	"*(u8 *)(r2 + 1) = r0;"
"9:"
	"exit;"
	::: __clobber_all);
}
