// @class read-only-maps
// @inputs 64 64
// @readonly ro_hash ro_array
/*
 * Map helpers called on maps programs may only read (BPF_F_RDONLY_PROG):
 * bpf_map_update_elem on a hash map and on an array map, and
 * bpf_map_delete_elem. No engine may change either map; the helper must fail
 * (or the load be refused).
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} ro_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} ro_array SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = 1;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = 0x4141;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = %[ro_hash] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r6 = r0;"
	"r1 = %[ro_array] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r6 += r0;"
	"r1 = %[ro_hash] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_delete_elem];"
	"r0 += r6;"
	"exit;"
	:
	: __imm_addr(ro_hash), __imm_addr(ro_array), __imm(bpf_map_update_elem), __imm(bpf_map_delete_elem)
	: __clobber_all);
}
