extension MemoryAccess {
    /// Reads a NUL-terminated string of at most `limit` bytes, stopping early at
    /// the first byte the program may not read (helpers such as trace_printk's
    /// `%s` read strings of unknown length, as the kernel's
    /// `strncpy_from_kernel_nofault` does: a fault ends the string).
    public func readCString(at address: UInt64, limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        var p = address
        while out.count < limit, let byte = try? load(UInt8.self, at: p), byte != 0 {
            out.append(byte)
            p &+= 1
        }
        return out
    }
}
