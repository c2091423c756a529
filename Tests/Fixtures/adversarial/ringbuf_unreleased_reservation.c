// @class references
// @inputs 64
// @runs 300
/*
 * A program that reserves a ring-buffer record and never submits or discards
 * it (the kernel refuses it: unreleased reference). Run 300 times, it must
 * either be refused at load or leave the ring usable: the companion program
 * `produce` must still reserve and submit afterwards (checked from Swift).
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
	"r2 = 64;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 1f;"
	"r1 = 0x1234;"
	"*(u64 *)(r0 + 0) = r1;"
	"r0 = 1;"
	"exit;"
"1:"
	"r0 = 2;"
	"exit;"
	:
	: __imm_addr(rb), __imm(bpf_ringbuf_reserve)
	: __clobber_all);
}

/* Reserves, writes and submits one 64-byte record (as large as the leaked
 * ones): 1 on success, 2 when the reservation failed. */
SEC("xdp")
__naked int produce(struct xdp_md *ctx)
{
	asm volatile (
	"r1 = %[rb] ll;"
	"r2 = 64;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 1f;"
	"r1 = 0x5678;"
	"*(u64 *)(r0 + 0) = r1;"
	"r1 = r0;"
	"r2 = 0;"
	"call %[bpf_ringbuf_submit];"
	"r0 = 1;"
	"exit;"
"1:"
	"r0 = 2;"
	"exit;"
	:
	: __imm_addr(rb), __imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_submit)
	: __clobber_all);
}
