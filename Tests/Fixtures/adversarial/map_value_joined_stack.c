// @class map-value-neighbours
// @inputs 64:00 64:07
// @refused is outside the 64-byte value
/*
 * r1 is a map value on one path and a pointer into the caller's stack on
 * the other (packet byte 0 picks), and a callee reads 16 bytes below it:
 * inside the caller's frame on the stack path, but before the value on the
 * map path, where the neighbouring element (or whatever lies before the
 * map's storage) would answer. The verifier judges the access on each path
 * and refuses it for the map path, as the kernel refuses any map value
 * access outside [0, value_size).
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, char[64]);
} values SEC(".maps");

__subprog int peek(void)
{
	asm volatile (
	"r0 = *(u64 *)(r1 - 16);"
	"exit;"
	::: __clobber_all);
}

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	LOAD_PACKET
	"r0 = 0;"
	"r4 = r2;"
	"r4 += 8;"
	"if r4 > r3 goto 1f;"
	"r6 = *(u8 *)(r2 + 0);"
	"*(u64 *)(r10 - 72) = 0;"
	"*(u32 *)(r10 - 4) = 1;"
	"r1 = %[values] ll;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_lookup_elem];"
	"if r0 == 0 goto 1f;"
	"r1 = r0;"
	"if r6 == 7 goto 2f;"
	"r1 = r10;"
	"r1 += -56;"
	"2:"
	"call peek;"
	"1:"
	"exit;"
	:
	: __imm_addr(values), __imm(bpf_map_lookup_elem)
	: __clobber_all);
}
