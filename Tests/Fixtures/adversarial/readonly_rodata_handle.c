// @class read-only-maps
// @inputs 64 64
// @readonly .rodata
/*
 * bpf_map_update_elem and bpf_map_delete_elem on the handle of the .rodata
 * map itself (ld_imm64 with src 5, the map at index 0 of the object, spelled
 * in raw bytes since clang has no syntax for it). A direct store to .rodata
 * is refused; the map helpers must refuse the write too, on every engine.
 */
#include "adversarial.h"

const volatile __u64 settings[2] = { 0x1111, 0x2222 };

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = %[settings] ll;"
	"r6 = *(u64 *)(r1 + 0);"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"r1 = 0x4141;"
	"*(u64 *)(r10 - 24) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	/* r1 = the map at index 0 (.rodata): opcode 0x18, dst r1, src 5, imm 0 */
	".8byte 0x0000000000005118;"
	".8byte 0;"
	"r2 = r10;"
	"r2 += -4;"
	"r3 = r10;"
	"r3 += -24;"
	"r4 = 0;"
	"call %[bpf_map_update_elem];"
	"r7 = r0;"
	".8byte 0x0000000000005118;"
	".8byte 0;"
	"r2 = r10;"
	"r2 += -4;"
	"call %[bpf_map_delete_elem];"
	"r0 += r7;"
	"r0 += r6;"
	"exit;"
	:
	: __imm_addr(settings), __imm(bpf_map_update_elem), __imm(bpf_map_delete_elem)
	: __clobber_all);
}
