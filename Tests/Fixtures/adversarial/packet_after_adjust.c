// @class packet-ranges
// @inputs 64:00 64:01 64:02 64:03 64:04 128:00 128:01 128:02 128:03 128:04
/*
 * Packet pointers and ranges across helpers that move the packet: a range
 * checked before bpf_xdp_adjust_head (front moved in by 32), before
 * bpf_xdp_adjust_tail (end moved in by 40), and before bpf_xdp_adjust_meta,
 * used after them; a range grown on the data pointer and applied to the
 * meta pointer. Every packet pointer dies at such a call. Packet byte 0
 * picks the case.
 */
#include "adversarial.h"

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r9 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 64;"
	"if r4 > r3 goto 9f;"
	"r6 = r2;"
	"r7 = *(u8 *)(r2 + 0);"
	"r0 = 0;"
	"r1 = r9;"
	"if r7 != 0 goto 1f;"
	"r2 = 32;"
	"call %[bpf_xdp_adjust_head];"
	"r0 = *(u64 *)(r6 + 8);"
	"r1 = *(u64 *)(r6 + 56);"
	"r0 ^= r1;"
	"goto 9f;"
"1:"
	"if r7 != 1 goto 2f;"
	"r2 = -40;"
	"call %[bpf_xdp_adjust_tail];"
	"r0 = *(u64 *)(r6 + 48);"
	"*(u64 *)(r6 + 40) = r0;"
	"goto 9f;"
"2:"
	"if r7 != 2 goto 3f;"
	"r2 = -16;"
	"call %[bpf_xdp_adjust_meta];"
	"r0 = *(u64 *)(r6 + 56);"
	"goto 9f;"
"3:"
	"if r7 != 3 goto 4f;"
	"r2 = -16;"
	"call %[bpf_xdp_adjust_meta];"
	"r2 = *(u32 *)(r9 + 8);"
	"r3 = *(u32 *)(r9 + 0);"
	"r4 = r3;"
	"r4 += 64;"
	"r5 = *(u32 *)(r9 + 4);"
	"if r4 > r5 goto 9f;"
	"r0 = *(u64 *)(r2 + 56);"
	"goto 9f;"
"4:"
	"r2 = 32;"
	"call %[bpf_xdp_adjust_head];"
	"r2 = *(u32 *)(r9 + 0);"
	"r3 = *(u32 *)(r9 + 4);"
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r0 = *(u64 *)(r6 + 0);"
	"*(u64 *)(r2 + 0) = r0;"
"9:"
	"exit;"
	:
	: __imm(bpf_xdp_adjust_head), __imm(bpf_xdp_adjust_tail), __imm(bpf_xdp_adjust_meta)
	: __clobber_all);
}
