// @class sign-extension
// @cpu v4
// @inputs 64:00000000000000007f 64:000000000000000080 64:0100000000000000ff 64:0200000000000000fe 64:030000000000000080ff 64:0400000000000000ffffff7f 64:050000000000000080
/*
 * Sign extension and bounds (cpu v4 movsx and ldsx): r6 = (s8) r5 on 64 bits
 * is in [-128, 127]; w6 = (s8) w5 is zero-extended, in [0, 0xffffffff]; a
 * sign-extending load of a byte, of a half word and of a word. Each is used
 * as an offset from r10 - 256 after a one-sided check. Packet byte 0 picks
 * the case; bytes 8.. are the operand.
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
	"r5 = *(u64 *)(r2 + 8);"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"r6 = (s8)r5;"
	"if r6 s> 100 goto 9f;"
	"goto 5f;"
"1:"
	"if r7 != 1 goto 2f;"
	"w6 = (s8)w5;"
	"if w6 s> 100 goto 9f;"
	"if w6 s< -200 goto 9f;"
	"goto 5f;"
"2:"
	"if r7 != 2 goto 3f;"
	"r6 = *(s8 *)(r2 + 8);"
	"if r6 > 100 goto 9f;"
	"goto 5f;"
"3:"
	"if r7 != 3 goto 4f;"
	"r6 = *(s16 *)(r2 + 8);"
	"if r6 s> 200 goto 9f;"
	"if r6 s< -255 goto 9f;"
	"goto 5f;"
"4:"
	"if r7 != 4 goto 6f;"
	"r6 = *(s32 *)(r2 + 8);"
	"r6 >>= 24;"
	"goto 5f;"
"6:"
	"r6 = (s16)r5;"
	"r6 &= 0x1ff;"
	"r6 -= 0x100;"
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
