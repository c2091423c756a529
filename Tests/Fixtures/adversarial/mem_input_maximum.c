// @class input-length
// @type mem
// @inputs 0 17 4095 4096
// @over-maximum 4097 4112 65535
/*
 * The mem input maximum (4,096 bytes by default) is an assumption the
 * verifier's proofs rest on, not only a bound on loops. r3 = r2 >> 4 is in
 * [0, 256] while r2 <= 4096, so the byte store at r10 - 257 + r3 lies in
 * [-257, -1], inside the frame: proven, and so unchecked on the JITs. An
 * input of 4,112 bytes or more would put it at r10 and above, outside the
 * frame. Up to the maximum every engine must end as the interpreter does;
 * each longer input, given in a run built for a wider type (as a host with
 * buffers of its own might), must be refused by every engine at its entry.
 * The program returns r3.
 */
#include "adversarial.h"

SEC("mem")
__naked int attack(void *buf)
{
	asm volatile (
	"r3 = r2;"
	"r3 >>= 4;"
	"r4 = r10;"
	"r4 += -257;"
	"r4 += r3;"
	"*(u8 *)(r4 + 0) = 1;"
	"r0 = r3;"
	"exit;"
	::: __clobber_all);
}
