// @class helper-stack-regions
// @inputs 64:00 64:01 64:02 64:03 64:04
/*
 * Helper memory arguments outside the BPF stack: bpf_xdp_store_bytes copying
 * from 16 bytes above r10 (saved registers, a return address) and from 4 KiB
 * and 16 KiB below it, bpf_xdp_load_bytes writing the packet over 16 bytes
 * above r10 (moving a saved return address). Only the BPF stack is the
 * program's: every engine must fail the helper as the interpreter does.
 * Packet byte 0 picks the case.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 1;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r1 = r6;"
	"r2 = 16;"
	"r3 = r10;"
	"r4 = 16;"
	"if r7 == 0 goto 1f;"
	"r3 += -4608;"
	"if r7 == 1 goto 1f;"
	"r3 += -12288;"
	"if r7 == 2 goto 1f;"
	"r3 = r10;"
	"r3 += 8;"
	"if r7 == 3 goto 1f;"
	"call %[bpf_xdp_load_bytes];"
	"goto 9f;"
"1:"
	"call %[bpf_xdp_store_bytes];"
"9:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_xdp_load_bytes), __imm(bpf_xdp_store_bytes)
	: __clobber_all);
}
