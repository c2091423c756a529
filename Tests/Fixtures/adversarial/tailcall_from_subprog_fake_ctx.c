// @class tail-call-context
// @inputs 64
/*
 * The made-up context of tailcall_fake_ctx_global, passed from a
 * subprogram: the check on bpf_tail_call's first argument must hold in every
 * function, not only in the entry one.
 */
#include "adversarial.h"

__u64 fake_ctx[4];

int target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = { .values = { [0] = (void *)&target } };

__subprog int hop(void)
{
	asm volatile (
	"r1 = %[fake_ctx] ll;"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r0 = 9;"
	"exit;"
	:
	: __imm_addr(fake_ctx), __imm_addr(jmp_table), __imm(bpf_tail_call)
	: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = %[fake_ctx] ll;"
	"*(u64 *)(r4 + 0) = r2;"
	"r3 += 4000;"
	"*(u64 *)(r4 + 8) = r3;"
	"*(u64 *)(r4 + 16) = r2;"
	"call hop;"
	"exit;"
	:
	: __imm_addr(fake_ctx)
	: __clobber_all);
}

SEC("xdp")
__naked int target(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 4000;"
	"if r4 > r3 goto 2f;"
	"r0 = *(u64 *)(r2 + 3000);"
	"*(u64 *)(r2 + 8) = r0;"
	"exit;"
"2:"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}
