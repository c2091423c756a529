// bpf_loop and bpf_for_each_map_elem: loops over the packet, over an array
// and over a hash map, early stops, the helpers' errors, nested data reached
// through the callback context. Results go to `results` and into r0.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 8);
} values SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 16);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 8);
} results SEC(".maps");

static void record(__u32 slot, __u64 value) {
    bpf_map_update_elem(&results, &slot, &value, BPF_ANY);
}

struct histogram {
    __u64 buckets[4];
    __u32 stop_at;
    __u32 calls;
};

struct packet_walk {
    void *data;
    void *data_end;
    __u64 sum;
    struct histogram hist;
};

// One byte of the packet per iteration; stops at a 0xff byte or the end.
static long walk_byte(__u64 index, struct packet_walk *walk) {
    __u8 *byte = (__u8 *)walk->data + (index & 0xfff);
    walk->hist.calls++;
    if ((void *)(byte + 1) > walk->data_end) return 1;
    if (*byte == 0xff) return 1;
    walk->sum += *byte;
    walk->hist.buckets[*byte & 3]++;
    return index + 1 == walk->hist.stop_at ? 1 : 0;
}

SEC("xdp")
int loop_packet(struct xdp_md *ctx) {
    struct packet_walk walk = {};
    walk.data = (void *)(long)ctx->data;
    walk.data_end = (void *)(long)ctx->data_end;
    __u8 *p = walk.data;
    if ((void *)(p + 15) > walk.data_end) return XDP_ABORTED;
    walk.hist.stop_at = p[14];
    long done = bpf_loop(64, walk_byte, &walk, 0);
    record(0, done);
    record(1, walk.sum);
    record(2, walk.hist.buckets[0] | walk.hist.buckets[1] << 16 | walk.hist.buckets[2] << 32 | walk.hist.buckets[3] << 48);
    record(3, walk.hist.calls);
    return (int)(done * 4 + (walk.sum & 3)) & 0xff;
}

static long count_only(__u64 index, void *unused) {
    return 0;
}

// The helpers' own answers: flags, too many loops, none, no context.
SEC("xdp")
int loop_errors(struct xdp_md *ctx) {
    __u64 n = 0;
    record(4, bpf_loop(3, count_only, &n, 1));
    record(5, bpf_loop((1 << 23) + 1, count_only, &n, 0));
    record(6, bpf_loop(0, count_only, &n, 0));
    record(7, bpf_loop(5, count_only, 0, 0));
    return XDP_PASS;
}

struct array_walk {
    __u64 total;
    __u32 stop_key;
    __u32 visited;
};

// Adds key + 1 to every element of `values`, sums them, stops after stop_key.
static long bump(struct bpf_map *map, __u32 *key, __u64 *value, struct array_walk *walk) {
    *value += *key + 1;
    walk->total += *value;
    walk->visited++;
    return *key == walk->stop_key ? 1 : 0;
}

SEC("xdp")
int each_array(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *p = data;
    if ((void *)(p + 16) > end) return XDP_ABORTED;
    struct array_walk walk = { .stop_key = p[15] & 7 | (p[15] & 8 ? 100 : 0) };
    long n = bpf_for_each_map_elem(&values, bump, &walk, 0);
    record(0, n);
    record(1, walk.total);
    record(2, walk.visited);
    record(3, bpf_for_each_map_elem(&values, bump, &walk, 2));
    return (int)n;
}

struct hash_walk {
    __u64 sum;
    __u64 keys;
    __u32 count;
};

static long add_flow(struct bpf_map *map, __u32 *key, __u64 *value, struct hash_walk *walk) {
    walk->sum += *value;
    walk->keys += *key;
    walk->count++;
    return 0;
}

static long first_flow(struct bpf_map *map, __u32 *key, __u64 *value, __u32 *found) {
    *found = *key + 1;
    return 1;
}

// Counts the packet under key p[14] % 5, then sums every flow with a callback.
SEC("xdp")
int each_hash(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *p = data;
    if ((void *)(p + 15) > end) return XDP_ABORTED;
    __u32 key = p[14] % 5;
    __u64 one = 1, *count = bpf_map_lookup_elem(&flows, &key);
    if (count) __sync_fetch_and_add(count, 1);
    else bpf_map_update_elem(&flows, &key, &one, BPF_NOEXIST);
    struct hash_walk walk = {};
    long n = bpf_for_each_map_elem(&flows, add_flow, &walk, 0);
    __u32 found = 0;
    long stopped = bpf_for_each_map_elem(&flows, first_flow, &found, 0);
    record(4, n);
    record(5, walk.sum);
    record(6, walk.keys | (__u64)walk.count << 32);
    record(7, stopped | (__u64)(found != 0) << 8);
    return (int)(n * 16 + walk.sum) & 0xff;
}

char LICENSE[] SEC("license") = "GPL";
