// @class references
// @inputs 64 64
/*
 * A ring-buffer record written after it was submitted, and submitted twice:
 * the pointer dies with the release. Must be refused at load or end as on
 * the interpreter.
 */
#include "adversarial.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
__naked int attack(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = %[rb] ll;"
	"r2 = 16;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 1f;"
	"r6 = r0;"
	"r1 = r0;"
	"r2 = 0;"
	"call %[bpf_ringbuf_submit];"
	"r1 = 0x77;"
	"*(u64 *)(r6 + 8) = r1;"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
	"r0 = 1;"
	"exit;"
"1:"
	"r0 = 2;"
	"exit;"
	:
	: __imm_addr(rb), __imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_submit), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}
