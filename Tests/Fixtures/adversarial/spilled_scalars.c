// @class spilled-scalars
// @type mem
// @inputs 16:0000 64:0000 64:0101 64:0200 64:0300000000000000c0ffffffffffffff 64:04000000000000003c00000000000000
// @inputs 64:0500 64:06000000000000000070000000000000 64:0700
/*
 * Registers spilled to 8-byte stack slots (mem programs): a fill gives back
 * what was stored, linked to the register, but only while nothing else may
 * have written the slot. Every case fills r3 from r10 - 8 after something
 * that changed (or may have changed) the slot, then reads at r1 + r3; each
 * read must stay checked and fail on every engine as on the interpreter.
 * Byte 0 picks the case; byte 1 and the 8 bytes at 8 are operands.
 *   0: r3 = byte 1 (0) spilled, checked r3 + 4 <= len, then the low 4 bytes
 *      of the slot overwritten with 0x7fff
 *   1: the same, the last byte of the slot overwritten with 1 (byte 1 = 1:
 *      the slot then holds 2^56 + 1)
 *   2: r3 = 0 spilled, then an atomic add of 0x7fff to the slot
 *   3: r3 = 0 spilled, then a checked 8-byte store of 0x7fff through
 *      r10 + (-64 + the 8 bytes at 8) (-64 + 64: the slot itself; the
 *      verifier cannot tell where it lands)
 *   4: r3 = the low byte of the 8 bytes at 8 (60) spilled, checked r3 + 4 <= len, then a
 *      read of 8 bytes at r1 + r3 (off by 4)
 *   5: r3 = 0 spilled, then a second spill of 0x7fff over it
 *   6: r3 = 8 spilled at r10 - 16, filled from r10 - 12 (not a whole slot:
 *      the slot at r10 - 8 is read half, and its upper half holds r3's
 *      upper bytes) after the 8 bytes at 8 (0x7000) went to r10 - 8
 *   7: r3 = 0 spilled, r6 = r3, r6 bounded, then r3 moved by 0x7fff and
 *      spilled again; r6's bound must not reach the new slot
 */
#include "adversarial.h"

/* Each case's own fill and read, so that a proof on one path is not hidden by another's. */
#define FILL_AND_READ \
	"r3 = *(u64 *)(r10 - 8);" \
	"r5 = r1;" \
	"r5 += r3;" \
	"r0 = *(u32 *)(r5 + 0);" \
	"goto 99f;"

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
	"*(u64 *)(r10 - 8) = r3;"
	"r4 = r3;"
	"r4 += 4;"
	"if r4 > r2 goto 99f;"
	"*(u32 *)(r10 - 8) = 0x7fff;"
	FILL_AND_READ
"1:"
	"if r6 != 1 goto 2f;"
	"r3 = r7;"
	"*(u64 *)(r10 - 8) = r3;"
	"r4 = r3;"
	"r4 += 4;"
	"if r4 > r2 goto 99f;"
	"*(u8 *)(r10 - 1) = 1;"
	FILL_AND_READ
"2:"
	"if r6 != 2 goto 3f;"
	"r3 = 0;"
	"*(u64 *)(r10 - 8) = r3;"
	"r5 = 0x7fff;"
	"lock *(u64 *)(r10 - 8) += r5;"
	FILL_AND_READ
"3:"
	"if r6 != 3 goto 4f;"
	"r9 = r10;"
	"r9 += r8;"
	"r3 = 0;"
	"*(u64 *)(r10 - 8) = r3;"
	"r5 = 0x7fff;"
	"*(u64 *)(r9 + 56) = r5;"
	FILL_AND_READ
"4:"
	"if r6 != 4 goto 5f;"
	"r3 = r8;"
	"r3 &= 0xff;"
	"*(u64 *)(r10 - 8) = r3;"
	"r4 = r3;"
	"r4 += 4;"
	"if r4 > r2 goto 99f;"
	"r3 = *(u64 *)(r10 - 8);"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u64 *)(r5 + 0);"
	"goto 99f;"
"5:"
	"if r6 != 5 goto 6f;"
	"r3 = 0;"
	"*(u64 *)(r10 - 8) = r3;"
	"r3 = 0x7fff;"
	"*(u64 *)(r10 - 8) = r3;"
	"r3 = 0;"
	FILL_AND_READ
"6:"
	"if r6 != 6 goto 7f;"
	"r3 = 8;"
	"*(u64 *)(r10 - 16) = r3;"
	"*(u64 *)(r10 - 8) = r8;"
	"r3 = *(u64 *)(r10 - 12);"
	"r5 = r1;"
	"r5 += r3;"
	"r0 = *(u8 *)(r5 + 0);"
	"goto 99f;"
"7:"
	"r3 = 0;"
	"*(u64 *)(r10 - 8) = r3;"
	"r6 = r3;"
	"if r6 > 8 goto 99f;"
	"r3 += 0x7fff;"
	"*(u64 *)(r10 - 8) = r3;"
	FILL_AND_READ
"99:"
	"exit;"
	::: __clobber_all);
}
