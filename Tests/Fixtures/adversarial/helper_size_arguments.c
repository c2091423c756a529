// @class helper-sizes
// @inputs 64:00 64:01 64:02 64:03 64:04 64:05 64:06 64:07 1500:02
/*
 * Helper size arguments that do not fit the buffer: zero, -1 (all ones),
 * larger than the stack buffer passed (600 into 16 bytes at the top of the
 * frame), a size from the packet with only an upper bound on 32 bits, a
 * ring-buffer output of 4 KiB from the stack, csum_diff sizes not a multiple
 * of four and past the frame. Packet byte 0 picks the case.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r8 = *(u32 *)(r2 + 4);"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = r6;"
	"r2 = 0;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"if r7 == 0 goto 1f;"
	"r4 = -1;"
	"if r7 == 1 goto 1f;"
	"r4 = 600;"
	"if r7 == 2 goto 1f;"
	"r4 = r8;"
	"if w4 > 64 goto 9f;"
	"if r7 == 3 goto 1f;"
	"if r7 == 4 goto 2f;"
	"if r7 == 5 goto 3f;"
	"if r7 == 6 goto 4f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 4;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 16;"
	"r5 = 0;"
	"call %[bpf_csum_diff];"
	"goto 8f;"
"1:"
	"call %[bpf_xdp_load_bytes];"
	"goto 8f;"
"2:"
	"r1 = %[rb] ll;"
	"r2 = r10;"
	"r2 += -512;"
	"r3 = 4096;"
	"r4 = 0;"
	"call %[bpf_ringbuf_output];"
	"goto 8f;"
"3:"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 6;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 8;"
	"r5 = 0;"
	"call %[bpf_csum_diff];"
	"goto 8f;"
"4:"
	"r1 = r6;"
	"r2 = 0;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 64;"
	"call %[bpf_xdp_store_bytes];"
"8:"
	"r1 = *(u64 *)(r10 - 8);"
	"r0 ^= r1;"
	"exit;"
"9:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_xdp_load_bytes), __imm(bpf_xdp_store_bytes), __imm(bpf_ringbuf_output), __imm(bpf_csum_diff), __imm_addr(rb)
	: __clobber_all);
}
