// @class tail-call-context
// @inputs 64:00 64:01
/*
 * The context spilled to the stack and reloaded before bpf_tail_call, and
 * the spill slot overwritten between the spill and the reload (packet byte
 * 0 = 1) with the address of a made-up context on the stack whose data_end
 * lies 2 KiB past the packet's start. Whether or not the verifier follows spills,
 * the target may only ever see the real context.
 */
#include "adversarial.h"

int target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = { .values = { [0] = (void *)&target } };

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"*(u64 *)(r10 - 8) = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 64;"
	"if r4 > r3 goto 9f;"
	"r5 = *(u8 *)(r2 + 0);"
	"*(u64 *)(r10 - 32) = r2;"
	"r4 = r2;"
	"r4 += 2048;"
	"*(u64 *)(r10 - 24) = r4;"
	"*(u64 *)(r10 - 16) = r2;"
	"if r5 == 0 goto 1f;"
	"r4 = r10;"
	"r4 += -32;"
	"*(u64 *)(r10 - 8) = r4;"
"1:"
	"r1 = *(u64 *)(r10 - 8);"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
"9:"
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
	"exit;"
"2:"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}
