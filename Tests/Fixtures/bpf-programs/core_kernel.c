/* CO-RE relocations against the running kernel's types (vmlinux BTF),
 * through local flavors: struct sk_buff's fields sit in anonymous
 * structs and unions there, pkt_type is a bitfield, task_struct has no
 * field named nonexistent_field. The XDP program writes 20 u32 results
 * at the start of the packet, so libbpf + kernel and BPFKit can be
 * compared byte for byte. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sk_buff___local {
	unsigned int len;
	__u8 pkt_type : 3;
	__u16 protocol;
} __attribute__((preserve_access_index));

struct task_struct___local {
	int pid;
	char comm[16];
	long nonexistent_field;
} __attribute__((preserve_access_index));

enum bpf_map_type___x { BPF_MAP_TYPE_RINGBUF___x = 100, BPF_MAP_TYPE_NOPE___x = 101 };

/* Matches: every member's name, size and signedness (and the names of the
 * integer types: vmlinux's 'short int' would not match clang's 'short'). */
struct bpf_insn___same { __u8 code; __s32 imm; };
struct bpf_insn___different { __u32 code; };
struct no_such_type_in_any_kernel { int z; };

SEC("xdp")
int core_kernel(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 *out = data;
	if (data + 20 * 4 > end)
		return XDP_ABORTED;
	struct sk_buff___local *s = 0;
	struct task_struct___local *t = 0;
	out[0] = bpf_core_field_offset(s->len);
	out[1] = bpf_core_field_size(s->len);
	out[2] = bpf_core_field_offset(s->protocol);
	out[3] = __builtin_preserve_field_info(s->pkt_type, BPF_FIELD_BYTE_OFFSET);
	out[4] = __builtin_preserve_field_info(s->pkt_type, BPF_FIELD_BYTE_SIZE);
	out[5] = __builtin_preserve_field_info(s->pkt_type, BPF_FIELD_LSHIFT_U64);
	out[6] = __builtin_preserve_field_info(s->pkt_type, BPF_FIELD_RSHIFT_U64);
	out[7] = __builtin_preserve_field_info(s->pkt_type, BPF_FIELD_SIGNED);
	out[8] = bpf_core_field_exists(t->nonexistent_field);
	out[9] = bpf_core_field_exists(t->pid);
	out[10] = bpf_core_type_size(struct task_struct___local);
	out[11] = bpf_core_type_exists(struct task_struct___local);
	out[12] = bpf_core_type_exists(struct no_such_type_in_any_kernel);
	out[13] = bpf_core_type_id_kernel(struct task_struct___local);
	out[14] = bpf_core_enum_value(enum bpf_map_type___x, BPF_MAP_TYPE_RINGBUF___x);
	out[15] = bpf_core_enum_value_exists(enum bpf_map_type___x, BPF_MAP_TYPE_NOPE___x);
	out[16] = bpf_core_type_matches(struct bpf_insn___same);
	out[17] = bpf_core_type_matches(struct bpf_insn___different);
	out[18] = bpf_core_field_offset(t->comm[3]);
	/* Unresolvable, but only where it does not exist: dead code for the verifier. */
	out[19] = bpf_core_field_exists(t->nonexistent_field) ? bpf_core_field_offset(t->nonexistent_field) : 0xfeed;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
