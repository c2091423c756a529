// @class callbacks
// @inputs 64
// @refused read-only
/*
 * A bpf_for_each_map_elem callback writes through the key pointer it was
 * given. The key is read-only (the kernel's PTR_TO_MAP_KEY): refused.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} elements SEC(".maps");

__subprog int rewrite_key(void)
{
	asm volatile (
	"r1 = 3;"
	"*(u32 *)(r2 + 0) = r1;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = %[elements] ll;"
	"r2 = %[rewrite_key] ll;"
	"r3 = 0;"
	"r4 = 0;"
	"call %[bpf_for_each_map_elem];"
	"exit;"
	:
	: __imm_addr(elements), __imm_addr(rewrite_key), __imm(bpf_for_each_map_elem)
	: __clobber_all);
}
