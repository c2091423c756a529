// @class read-only-maps
// @inputs 64
// @readonly .rodata ro_array
/*
 * Helpers that write memory arguments, given read-only memory: the packet
 * copied into .rodata by bpf_xdp_load_bytes, and into the value of a
 * BPF_F_RDONLY_PROG array through the pointer a lookup returned. A direct
 * store there is refused; a helper's write must be too.
 */
#include "adversarial.h"

const volatile __u64 limits[4] = { 1, 2, 3, 4 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} ro_array SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	"r2 = 0;"
	"r3 = %[limits] ll;"
	"r4 = 16;"
	"call %[bpf_xdp_load_bytes];"
	"r7 = r0;"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = %[ro_array] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 9f;"
	"r1 = r6;"
	"r2 = 8;"
	"r3 = r0;"
	"r4 = 8;"
	"call %[bpf_xdp_load_bytes];"
	"r7 += r0;"
"9:"
	"r0 = r7;"
	"exit;"
	:
	: __imm_addr(limits), __imm_addr(ro_array), __imm(bpf_xdp_load_bytes), __imm(bpf_map_lookup_elem)
	: __clobber_all);
}
