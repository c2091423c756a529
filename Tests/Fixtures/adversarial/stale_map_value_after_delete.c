// @class stale-map-values
// @inputs 64
// @forbid-r0 0xbad
/*
 * A pointer to a hash element outlives its deletion: the element is deleted,
 * a third key added and deleted, another key added (with one entry, into
 * the storage the first had, as soon as the map reuses it), and the program
 * stores through the old pointer. The store must not land in the new
 * key's value: r0 is 0xbad only when it did.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} one SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = 1;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = 2;"
	"*(u32 *)(r10 - 8) = r1;"
	"r1 = 0x1111;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 8f;"
	"r6 = r0;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_delete_elem];"
	/* key 3 added and deleted: the map's free list moves on by one */
	"r1 = 3;"
	"*(u32 *)(r10 - 20) = r1;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -20;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -20;"
	"call %[bpf_map_delete_elem];"
	"r1 = 0x2222;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -8;"
	"r3 = r10;"
	"r3 += -16;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r1 = 0x5555;"
	"*(u64 *)(r6 + 0) = r1;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -8;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 7f;"
	"r1 = *(u64 *)(r0 + 0);"
	"r0 = 2;"
	"if r1 != 0x5555 goto 9f;"
	"r0 = 0xbad;"
	"goto 9f;"
"7:"
	"r0 = 1;"
	"goto 9f;"
"8:"
	"r0 = 3;"
"9:"
	"r6 = r0;"
	"r1 = %[one] ll;"
	"r2 = r10;"
	"r2 += -8;"
	"call %[bpf_map_delete_elem];"
	"r0 = r6;"
	"exit;"
	:
	: __imm_addr(one), __imm(bpf_map_update_elem), __imm(bpf_map_lookup_elem), __imm(bpf_map_delete_elem)
	: __clobber_all);
}
