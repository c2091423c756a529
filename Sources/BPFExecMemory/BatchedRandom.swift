import CBPFPlatform

/// Random numbers for image placement, drawn from the kernel's CSPRNG 256
/// bytes at a time.
///
/// `SystemRandomNumberGenerator` makes one getrandom(2) call per number,
/// which was over half of an allocation's cost; the kernel's own
/// get_random_u32_below likewise serves from a per-CPU batch.
struct BatchedRandom: RandomNumberGenerator {
    private var pool = [UInt64](repeating: 0, count: 32)
    private var position = 32

    mutating func next() -> UInt64 {
        if position == pool.count {
            let filled = pool.withUnsafeMutableBytes { bpf_random_bytes($0.baseAddress, $0.count) == 0 }
            if !filled {
                // getrandom cannot fail for a 256-byte request on any kernel
                // we run on; should it, fall back to the standard generator.
                var system = SystemRandomNumberGenerator()
                for index in pool.indices {
                    pool[index] = system.next()
                }
            }
            position = 0
        }
        defer { position += 1 }
        return pool[position]
    }
}
