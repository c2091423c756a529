/*
 * What a BPF program gets from the kernel, for the native build of the
 * benchmark suite (clang -O2 for the host, from the same source text):
 *
 *   - SEC(), __uint/__type/__array and the __u8..__u64 types, as libbpf spells them;
 *   - struct xdp_md over a buffer (data and data_end hold host pointers);
 *   - hash and array maps, implemented simply in C (open addressing, no locks:
 *     the harness runs one thread), created on first use from the sizes the
 *     map's declaration carries;
 *   - bpf_tail_call() as a call through the program array's function table
 *     (a statement that returns the callee's result, as a tail call would);
 *   - byte-order helpers as builtins.
 */
#ifndef BPFKIT_NATIVE_SHIM_H
#define BPFKIT_NATIVE_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int8_t __s8;
typedef int16_t __s16;
typedef int32_t __s32;
typedef int64_t __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u16 __sum16;
typedef __u32 __wsum;

#define SEC(name)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]

/* The kernel's struct xdp_md, with room for host pointers. */
struct xdp_md {
	uintptr_t data;
	uintptr_t data_end;
	uintptr_t data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PROG_ARRAY = 3,
};
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct ethhdr {
	unsigned char h_dest[ETH_ALEN];
	unsigned char h_source[ETH_ALEN];
	__be16 h_proto;
} __attribute__((packed));

struct iphdr {
	__u8 ihl : 4, version : 4;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

#define bpf_htons(x) __builtin_bswap16(x)
#define bpf_ntohs(x) __builtin_bswap16(x)
#define bpf_htonl(x) __builtin_bswap32(x)
#define bpf_ntohl(x) __builtin_bswap32(x)

/* ---- maps ---------------------------------------------------------------- */

/* The state of one map, hung on its declaration's `type` member (a pointer
 * that is NULL until the first use). Hash maps use linear probing over twice
 * max_entries slots; entries are never deleted by the suite. */
struct native_map {
	int type;
	__u32 key_size, value_size, max_entries, slots, count;
	__u8 *used;   /* hash: slot occupied */
	__u8 *keys;   /* hash: slots * key_size */
	__u8 *values; /* slots (hash) or max_entries (array) * value_size */
};

static inline struct native_map *native_map_create(int type, __u32 key_size, __u32 value_size, __u32 max_entries)
{
	struct native_map *m = calloc(1, sizeof(*m));
	m->type = type;
	m->key_size = key_size;
	m->value_size = value_size;
	m->max_entries = max_entries;
	if (type == BPF_MAP_TYPE_HASH) {
		__u32 slots = 1;
		while (slots < 2 * max_entries)
			slots <<= 1;
		m->slots = slots;
		m->used = calloc(slots, 1);
		m->keys = calloc(slots, key_size);
		m->values = calloc(slots, value_size);
	} else {
		m->values = calloc(max_entries, value_size);
	}
	return m;
}

static inline __u32 native_hash(const __u8 *key, __u32 size)
{
	__u32 h = 2166136261u;
	for (__u32 i = 0; i < size; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

/* The slot holding `key`, or where it would go (-1 if the table is full). */
static inline long native_slot(struct native_map *m, const void *key)
{
	__u32 mask = m->slots - 1, i = native_hash(key, m->key_size) & mask;
	for (__u32 n = 0; n < m->slots; n++, i = (i + 1) & mask) {
		if (!m->used[i] || memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size) == 0)
			return i;
	}
	return -1;
}

static inline void *native_map_lookup(struct native_map *m, const void *key)
{
	if (m->type == BPF_MAP_TYPE_ARRAY) {
		__u32 index = *(const __u32 *)key;
		return index < m->max_entries ? m->values + (size_t)index * m->value_size : NULL;
	}
	long slot = native_slot(m, key);
	return slot >= 0 && m->used[slot] ? m->values + (size_t)slot * m->value_size : NULL;
}

static inline long native_map_update(struct native_map *m, const void *key, const void *value, __u64 flags)
{
	if (m->type == BPF_MAP_TYPE_ARRAY) {
		__u32 index = *(const __u32 *)key;
		if (index >= m->max_entries)
			return -7; /* -E2BIG */
		if (flags == BPF_NOEXIST)
			return -17; /* -EEXIST */
		memcpy(m->values + (size_t)index * m->value_size, value, m->value_size);
		return 0;
	}
	long slot = native_slot(m, key);
	if (slot < 0)
		return -7;
	if (m->used[slot]) {
		if (flags == BPF_NOEXIST)
			return -17;
	} else {
		if (flags == BPF_EXIST)
			return -2; /* -ENOENT */
		if (m->count >= m->max_entries)
			return -7;
		m->used[slot] = 1;
		m->count++;
		memcpy(m->keys + (size_t)slot * m->key_size, key, m->key_size);
	}
	memcpy(m->values + (size_t)slot * m->value_size, value, m->value_size);
	return 0;
}

/* The map's state, created from its declaration's sizes on first use. */
#define native_map_of(map)                                                                    \
	((struct native_map *)((map)->type ? (void *)(map)->type                                 \
		: (void *)((map)->type = (void *)native_map_create(                                    \
			sizeof(*(map)->type) / sizeof(int), sizeof(*(map)->key),                              \
			sizeof(*(map)->value), sizeof(*(map)->max_entries) / sizeof(int)))))

#define bpf_map_lookup_elem(map, key) native_map_lookup(native_map_of(map), (key))
#define bpf_map_update_elem(map, key, value, flags) native_map_update(native_map_of(map), (key), (value), (flags))

/* A tail call jumps to the program in slot `index` and never comes back; on
 * a miss, execution continues after it. Here: return the callee's result. */
#define bpf_tail_call(ctx, map, index)                                                        \
	do {                                                                                      \
		__u32 native_index = (index);                                                         \
		if (native_index < sizeof(*(map)->max_entries) / sizeof(int) &&                       \
		    (map)->values[native_index])                                                      \
			return (map)->values[native_index](ctx);                                          \
	} while (0)

#endif
