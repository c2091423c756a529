// @class loops
// @inputs 64:00 64:01 64:02 64:03 64:0405
/*
 * Loops: a counter stepping past the value its exit test waits for (runs
 * until the budget ends it, on every engine); a counter widened at the loop
 * head, then used as a stack offset after the loop; a loop bounded by a
 * packet byte whose body indexes the stack by the counter (up to 255 bytes
 * into the top 256: a path that wrote above the stack's top would be refused
 * at load); a loop that
 * changes its bound inside its body. Packet byte 0 picks the case.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r8 = *(u8 *)(r2 + 1);"
	"r0 = 0;"
	"r6 = 0;"
	"if r7 != 0 goto 1f;"
"10:"
	"r6 += 3;"
	"if r6 != 16 goto 10b;"
	"goto 9f;"
"1:"
	"if r7 != 1 goto 2f;"
"11:"
	"r6 += 8;"
	"r0 += 1;"
	"if r0 < 40 goto 11b;"
	"r5 = r10;"
	"r5 += -512;"
	"r5 += r6;"
	"r0 = *(u8 *)(r5 + 0);"
	"goto 9f;"
"2:"
	"if r7 != 2 goto 3f;"
"12:"
	"r5 = r10;"
	"r5 += -256;"
	"r5 += r6;"
	"*(u8 *)(r5 + 0) = r6;"
	"r6 += 1;"
	"if r6 < r8 goto 12b;"
	"r0 = *(u64 *)(r10 - 256);"
	"goto 9f;"
"3:"
	"r8 = 4;"
"13:"
	"if r6 >= r8 goto 14f;"
	"r6 += 1;"
	"r8 += 1;"
	"if r6 < 100 goto 13b;"
"14:"
	"r5 = r10;"
	"r5 += -512;"
	"r5 += r6;"
	"r0 = *(u8 *)(r5 + 0);"
"9:"
	"exit;"
	::: __clobber_all);
}
