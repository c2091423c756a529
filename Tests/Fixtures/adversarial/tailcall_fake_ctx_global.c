// @class tail-call-context
// @inputs 64 14
/*
 * bpf_tail_call with r1 pointing at global data laid out like the XDP
 * context, whose data_end lies 3,000 bytes past the real one. The target
 * was verified with r1 as its context, so its packet accesses, checked
 * against the fake data_end, may be proven; they must not reach past the
 * real packet on any engine.
 */
#include "adversarial.h"

__u64 fake_ctx[4];

int target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = { .values = { [0] = (void *)&target } };

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = %[fake_ctx] ll;"
	"*(u64 *)(r4 + 0) = r2;"
	"r3 += 3000;"
	"*(u64 *)(r4 + 8) = r3;"
	"*(u64 *)(r4 + 16) = r2;"
	"r1 = r4;"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r0 = 7;"
	"exit;"
	:
	: __imm_addr(fake_ctx), __imm_addr(jmp_table), __imm(bpf_tail_call)
	: __clobber_all);
}

/* Sums the 8-byte words of [data + 64, data + 2048) after a check of data + 2048. */
SEC("xdp")
__naked int target(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 2048;"
	"if r4 > r3 goto 2f;"
	"r0 = 0;"
	"r5 = 64;"
"1:"
	"r4 = r2;"
	"r4 += r5;"
	"r6 = *(u64 *)(r4 + 0);"
	"r0 ^= r6;"
	"r5 += 8;"
	"if r5 < 2048 goto 1b;"
	"*(u64 *)(r2 + 0) = r0;"
	"exit;"
"2:"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}
