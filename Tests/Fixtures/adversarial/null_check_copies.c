// @class null-checks
// @inputs 64:00 64:01 64:02 64:03 64:04
/*
 * Null checks through copies (the kernel's map-value-or-null ids): a copy
 * taken before the check is non-null after it (sound); a copy of an older
 * lookup is not made non-null by the check of a newer one; a check on 32
 * bits (a non-null pointer may have zero low bits) is no null check; a
 * pointer after arithmetic checked against zero; a check of r0 after r0 was
 * overwritten. Key 7 is never present, so every lookup returns null.
 * Packet byte 0 picks the case.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} present SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 9f;"
	"r9 = *(u8 *)(r2 + 0);"
	"r1 = 7;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = 0;"
	"*(u32 *)(r10 - 8) = r1;"
	"r1 = %[table] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"r6 = r0;"
	"if r9 != 0 goto 1f;"
	"if r0 == 0 goto 8f;"
	"r0 = *(u64 *)(r6 + 0);"
	"goto 9f;"
"1:"
	"if r9 != 1 goto 2f;"
	"r1 = %[present] ll;"
	"r2 = r10;"
	"r2 += -8;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 8f;"
	"r0 = *(u64 *)(r6 + 0);"
	"goto 9f;"
"2:"
	"if r9 != 2 goto 3f;"
	"if w6 == 0 goto 8f;"
	"r0 = *(u64 *)(r6 + 0);"
	"goto 9f;"
"3:"
	"if r9 != 3 goto 4f;"
	"r6 += 8;"
	"if r6 == 0 goto 8f;"
	"r0 = *(u64 *)(r6 - 8);"
	"goto 9f;"
"4:"
	"r0 = 1;"
	"if r0 == 0 goto 8f;"
	"r0 = *(u64 *)(r6 + 0);"
	"goto 9f;"
"8:"
	"r0 = 0;"
"9:"
	"exit;"
	:
	: __imm_addr(table), __imm_addr(present), __imm(bpf_map_lookup_elem)
	: __clobber_all);
}
