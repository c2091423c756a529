// @class callbacks
// @inputs 64
// @refused is stored to memory
/*
 * A bpf_for_each_map_elem callback stores the key pointer it was given
 * into the caller's context; after the loop the caller reads through it.
 * The key lives only during the call (the kernel's PTR_TO_MAP_KEY); the
 * load must be refused.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} elements SEC(".maps");

__subprog int keep(void)
{
	asm volatile (
	"*(u64 *)(r4 + 0) = r2;"
	"r0 = 1;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"r1 = %[elements] ll;"
	"r2 = %[keep] ll;"
	"r3 = r10;"
	"r3 += -8;"
	"r4 = 0;"
	"call %[bpf_for_each_map_elem];"
	"r1 = *(u64 *)(r10 - 8);"
	"if r1 == 0 goto out;"
	"r0 = *(u32 *)(r1 + 0);"
	"exit;"
	"out:"
	"r0 = 0;"
	"exit;"
	:
	: __imm_addr(elements), __imm_addr(keep), __imm(bpf_for_each_map_elem)
	: __clobber_all);
}
