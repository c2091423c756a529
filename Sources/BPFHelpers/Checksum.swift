import BPFISA

/// `bpf_csum_diff` as kernels since 6.13 compute it (checked against this
/// machine's kernel by the differential tests): the ones'-complement sum of
/// `to` minus that of `from`, added to `seed`, folded to 16 bits (not
/// complemented). Older kernels returned the unfolded 32-bit sum and required
/// sizes in multiples of 4; programs fold the result themselves, so both give
/// the same final checksum.
public enum InternetChecksum {
    /// The largest `from` or `to` buffer the helper accepts (the kernel's scratch area).
    public static let maxBufferSize = 512

    /// Sum of 32-bit little-endian words with end-around carry; a 1–3 byte tail
    /// is a zero-padded word, as x86's `csum_partial` reads it.
    public static func partial(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        var sum = UInt64(seed)
        var i = 0
        while i < bytes.count {
            var word: UInt64 = 0
            for k in 0..<min(4, bytes.count - i) { word |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            sum += word
            i += 4
        }
        return fold32(sum)
    }

    public static func fold32(_ value: UInt64) -> UInt32 {
        var s = value
        while s >> 32 != 0 { s = (s & 0xffff_ffff) + (s >> 32) }
        return UInt32(s)
    }

    public static func fold16(_ value: UInt32) -> UInt32 {
        var s = value
        while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
        return s
    }

    /// The helper's result for the given buffers and seed, on a machine of
    /// `byteOrder`. A big-endian kernel sums big-endian words; ones'-complement
    /// addition commutes with swapping the bytes of each 16-bit half (RFC 1071,
    /// section 2(B)), so its result is the little-endian one computed from the
    /// swapped seed, then swapped.
    public static func difference(from: [UInt8], to: [UInt8], seed: UInt32, byteOrder: ByteOrder = .little) -> UInt32 {
        if byteOrder == .big {
            let swappedSeed = UInt32(UInt16(fold16(fold32(UInt64(seed)))).byteSwapped)
            return UInt32(UInt16(difference(from: from, to: to, seed: swappedSeed)).byteSwapped)
        }
        var sum = seed
        if !from.isEmpty { sum = ~partial(from, seed: ~sum) }
        if !to.isEmpty { sum = partial(to, seed: sum) }
        return fold16(sum)
    }
}
