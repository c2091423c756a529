// @class pointer-leaks
// @inputs 64:00 64:01 64:02 64:03 64:04
// @leak
/*
 * Pointers handed to the host: r10 in r0, a map value's address stored into
 * the map, the context's address stored into the packet, a stack address
 * passed to bpf_map_update_elem as the value, a map handle stored into global
 * data. A privileged load may allow them; an unprivileged load must refuse
 * the program, naming the instruction. Packet byte 0 picks the case.
 */
#include "adversarial.h"

__u64 sink;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r6 = r1;"
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r7 = *(u8 *)(r2 + 0);"
	"r8 = r2;"
	"r0 = r10;"
	"if r7 == 0 goto 9f;"
	"if r7 != 2 goto 1f;"
	"*(u64 *)(r8 + 0) = r6;"
	"r0 = 0;"
	"goto 9f;"
"1:"
	"if r7 != 4 goto 2f;"
	"r1 = %[values] ll;"
	"r2 = %[sink] ll;"
	"*(u64 *)(r2 + 0) = r1;"
	"r0 = 0;"
	"goto 9f;"
"2:"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"*(u64 *)(r10 - 16) = r10;"
	"r1 = %[values] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 9f;"
	"if r7 != 1 goto 3f;"
	"*(u64 *)(r0 + 0) = r0;"
	"r0 = 0;"
	"goto 9f;"
"3:"
	"r1 = %[values] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
"9:"
	"exit;"
	:
	: __imm_addr(values), __imm_addr(sink), __imm(bpf_map_lookup_elem), __imm(bpf_map_update_elem)
	: __clobber_all);
}
