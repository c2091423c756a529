// @class tail-calls
// @inputs 64 64
/*
 * The caller fills its frame with a secret, then tail-calls a target that
 * reads its own frame without writing it first, and a target that loops
 * back to itself up to the limit of 33 tail calls. A tail-called program
 * starts with a zeroed stack on the interpreter: no engine may show it the
 * caller's bytes.
 */
#include "adversarial.h"

int reader(struct xdp_md *ctx);
int again(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = { .values = { [0] = (void *)&reader, [1] = (void *)&again } };

__u64 count;

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r2 = 0x5ec2e75ec2e7 ll;"
	"*(u64 *)(r10 - 8) = r2;"
	"*(u64 *)(r10 - 16) = r2;"
	"*(u64 *)(r10 - 264) = r2;"
	"*(u64 *)(r10 - 512) = r2;"
	"r2 = %[count] ll;"
	"r3 = 0;"
	"*(u64 *)(r2 + 0) = r3;"
	"r2 = %[jmp_table] ll;"
	"r3 = 1;"
	"call %[bpf_tail_call];"
	"r0 = 7;"
	"exit;"
	:
	: __imm_addr(jmp_table), __imm_addr(count), __imm(bpf_tail_call)
	: __clobber_all);
}

SEC("xdp")
__naked int again(struct xdp_md *ctx)
{
	asm volatile (
	"r2 = %[count] ll;"
	"r3 = *(u64 *)(r2 + 0);"
	"r3 += 1;"
	"*(u64 *)(r2 + 0) = r3;"
	"r2 = %[jmp_table] ll;"
	"r3 = 1;"
	"call %[bpf_tail_call];"
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r0 = 8;"
	"exit;"
	:
	: __imm_addr(jmp_table), __imm_addr(count), __imm(bpf_tail_call)
	: __clobber_all);
}

SEC("xdp")
__naked int reader(struct xdp_md *ctx)
{
	asm volatile (
	"r0 = *(u64 *)(r10 - 8);"
	"r1 = *(u64 *)(r10 - 264);"
	"r0 ^= r1;"
	"r1 = *(u64 *)(r10 - 512);"
	"r0 ^= r1;"
	"r2 = %[count] ll;"
	"r1 = *(u64 *)(r2 + 0);"
	"r0 += r1;"
	"exit;"
	:
	: __imm_addr(count)
	: __clobber_all);
}
