// SPDX-License-Identifier: GPL-2.0
/*
 * mem programs (r1 = the input, r2 = its length) written the ways C code
 * walks a buffer: by index against the length, by index with a constant
 * cap, by pointer against r1 + r2, and a header read after a length check.
 * The verifier proves every access of each (InputLengthTests).
 */
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))

SEC("mem") int by_index(u8 *buf, u64 len)
{
	u64 h = 0xcbf29ce484222325ULL;
	for (u64 i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 32);
}

SEC("mem") int by_index_capped(u8 *buf, u32 len)
{
	u64 h = 0xcbf29ce484222325ULL;
	for (u32 i = 0; i < len && i < 1514; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 32);
}

SEC("mem") int by_pointer(u8 *buf, u64 len)
{
	u8 *end = buf + len;
	u64 h = 0xcbf29ce484222325ULL;
	for (u32 i = 0; i < 1514; i++) {
		u8 *b = buf + i;
		if (b + 1 > end)
			break;
		h ^= *b;
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 32);
}

SEC("mem") int header(u8 *buf, u64 len)
{
	if (len < 14)
		return 0;
	return buf[12] << 8 | buf[13];
}

char LICENSE[] SEC("license") = "GPL";
