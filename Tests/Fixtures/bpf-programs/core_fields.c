/* CO-RE relocations of every kind against local flavors (struct foo___v2,
 * enum color___v2), resolved against core_target.c's types (or the
 * object's own when no target is given). The XDP program reads a struct
 * foo at the start of the packet and writes 14 u32 results after it, at
 * offset 64. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct foo___v2 {
	int a;
	unsigned int b;
	unsigned int flags : 4;
	signed int mode : 5;
	int d;
	char name[6];
} __attribute__((preserve_access_index));

enum color___v2 { RED = 1, GREEN = 2, BLUE = 3 };

struct only_in_target___mine { int x; };
struct nowhere { int y; };

static __always_inline void put(void *data, int i, __u32 v)
{
	((__u32 *)(data + 64))[i] = v;
}

SEC("xdp")
int core_fields(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 64 + 14 * 4 > end)
		return XDP_ABORTED;
	struct foo___v2 *f = data;
	put(data, 0, f->a);
	put(data, 1, (__u32)f->b);
	put(data, 2, bpf_core_field_offset(f->b));
	put(data, 3, bpf_core_field_size(f->b));
	put(data, 4, bpf_core_field_exists(f->d));
	put(data, 5, BPF_CORE_READ_BITFIELD(f, mode));
	put(data, 6, bpf_core_type_size(struct foo___v2));
	put(data, 7, bpf_core_type_exists(struct only_in_target___mine));
	put(data, 8, bpf_core_type_exists(struct nowhere));
	put(data, 9, bpf_core_enum_value(enum color___v2, GREEN));
	put(data, 10, bpf_core_enum_value_exists(enum color___v2, BLUE));
	put(data, 11, f->name[4]);
	put(data, 12, BPF_CORE_READ_BITFIELD(f, flags));
	put(data, 13, bpf_core_field_exists(f->d) ? f->d : 0xdead);
	return XDP_TX;
}

/* Reads the missing field without asking whether it exists. */
SEC("xdp")
int core_unguarded(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 64 > end)
		return XDP_ABORTED;
	struct foo___v2 *f = data;
	return f->d == 7 ? XDP_DROP : XDP_PASS;
}

/* Uses the missing enumerator's value without asking whether it exists. */
SEC("xdp")
int core_enum_unguarded(struct xdp_md *ctx)
{
	return bpf_core_enum_value(enum color___v2, BLUE) == 3 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
