// @class calls
// @inputs 64:0003 64:000f 64:0107 64:02
/*
 * Local calls: a bound checked by the caller and used by the callee (and a
 * callee that changes r1 before using it), a callee writing through a
 * pointer to its caller's frame at an offset the caller bounded wrong, and
 * nine nested calls (one more than the frame limit). Packet byte 0 picks
 * the case, byte 1 is the number.
 */
#include "adversarial.h"

__subprog int index_frame(void)
{
	asm volatile (
	"r1 += 1;"
	"r3 = r10;"
	"r3 += -16;"
	"r3 += r1;"
	"r0 = *(u8 *)(r3 + 0);"
	"exit;"
	::: __clobber_all);
}

__subprog int write_caller(void)
{
	asm volatile (
	"r1 += r2;"
	"r3 = 0x42;"
	"*(u8 *)(r1 + 0) = r3;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

__subprog int nest1(void) { asm volatile ("call nest2; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest2(void) { asm volatile ("call nest3; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest3(void) { asm volatile ("call nest4; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest4(void) { asm volatile ("call nest5; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest5(void) { asm volatile ("call nest6; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest6(void) { asm volatile ("call nest7; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest7(void) { asm volatile ("call nest8; r0 += 1; exit;" ::: __clobber_all); }
__subprog int nest8(void) { asm volatile ("r1 = 0; *(u64 *)(r10 - 8) = r1; r0 = *(u64 *)(r10 - 8); exit;" ::: __clobber_all); }

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r1 = *(u8 *)(r2 + 1);"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"if r1 > 15 goto 9f;"
	"call index_frame;"
	"goto 9f;"
"1:"
	"if r7 != 1 goto 2f;"
	"r2 = r1;"
	"r1 = r10;"
	"r1 += -8;"
	"if r2 s> 7 goto 9f;"
	"call write_caller;"
	"r0 = *(u64 *)(r10 - 8);"
	"goto 9f;"
"2:"
	"call nest1;"
"9:"
	"exit;"
	::: __clobber_all);
}
