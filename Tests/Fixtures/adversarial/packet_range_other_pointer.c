// @class packet-ranges
// @inputs 64:0000000000000000 64:0100000000000000 64:02000000000000000010 64:03000000000000000800
/*
 * A range learned for one packet pointer applied to another: a pointer with
 * a variable offset checked against data_end, then the access made through
 * a second pointer whose offset was drawn separately; a check of data_end
 * against a pointer that went past it (pkt > pkt_end taken the wrong way); a
 * comparison of two data pointers taken as a bounds check. Packet byte 0
 * picks the case; bytes 8..9 are the offset.
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
	"r6 = *(u16 *)(r2 + 8);"
	"r8 = *(u16 *)(r2 + 8);"
	"r0 = 0;"
	"if r7 != 0 goto 1f;"
	"r4 = r2;"
	"r4 += r6;"
	"r5 = r4;"
	"r5 += 8;"
	"if r5 > r3 goto 9f;"
	"r5 = r2;"
	"r5 += r8;"
	"r0 = *(u64 *)(r5 + 0);"
	"goto 9f;"
"1:"
	"if r7 != 1 goto 2f;"
	"r4 = r2;"
	"r4 += 4096;"
	"if r4 < r3 goto 9f;"
	"r0 = *(u64 *)(r2 + 100);"
	"goto 9f;"
"2:"
	"if r7 != 2 goto 3f;"
	"r4 = r2;"
	"r4 += r6;"
	"r5 = r2;"
	"r5 += 200;"
	"if r4 > r5 goto 9f;"
	"r0 = *(u8 *)(r4 + 0);"
	"goto 9f;"
"3:"
	"r4 = r2;"
	"r4 += r6;"
	"if r4 >= r3 goto 9f;"
	"r0 = *(u64 *)(r4 + 0);"
	"r1 = *(u8 *)(r4 - 1);"
"9:"
	"exit;"
	::: __clobber_all);
}
