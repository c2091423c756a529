// @class helper-stack-regions
// @inputs 128:00 128:01 128:010000000000000007 128:02
/*
 * Helpers that read stack the program never wrote: bpf_xdp_store_bytes
 * copying 64 bytes from r10 - 128 into the packet (only r10 - 64 .. r10 was
 * written), directly (byte 0 = 0), through a register that holds a number on
 * the other path of a join (byte 0 = 1), and bpf_map_update_elem taking its
 * value from there (byte 0 = 2). The stack starts zeroed on the interpreter:
 * a helper's read counts as a read of the stack, and no engine may copy out
 * what the host left there.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[64]);
} values SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 16;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r8 = *(u64 *)(r2 + 8);"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"*(u64 *)(r10 - 24) = r1;"
	"*(u64 *)(r10 - 32) = r1;"
	"*(u64 *)(r10 - 40) = r1;"
	"*(u64 *)(r10 - 48) = r1;"
	"*(u64 *)(r10 - 56) = r1;"
	"*(u64 *)(r10 - 64) = r1;"
	"r3 = r10;"
	"r3 += -128;"
	"if r7 == 0 goto 1f;"
	"if r7 == 2 goto 2f;"
	"r4 = r8;"
	"if w4 == 0 goto 3f;"
	"r5 = r4;"
	"goto 4f;"
"3:"
	"r5 = r10;"
	"r5 += -128;"
"4:"
	"r3 = r5;"
	"r1 = r6;"
	"r2 = 0;"
	"r4 = 64;"
	"call %[bpf_xdp_store_bytes];"
	"goto 9f;"
"1:"
	"r1 = r6;"
	"r2 = 0;"
	"r4 = 64;"
	"call %[bpf_xdp_store_bytes];"
	"goto 9f;"
"2:"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = %[values] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r1 = %[values] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 9f;"
	"r1 = *(u64 *)(r0 + 8);"
	"r2 = *(u64 *)(r0 + 48);"
	"r1 ^= r2;"
	"r0 = r1;"
	"exit;"
"9:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_xdp_store_bytes), __imm(bpf_map_update_elem), __imm(bpf_map_lookup_elem), __imm_addr(values)
	: __clobber_all);
}
