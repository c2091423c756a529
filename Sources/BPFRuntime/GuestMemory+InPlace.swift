extension GuestMemory {
    /// The block's bytes from `offset` on, for a host that fills or reads
    /// them in place (`InPlaceBuffer`): valid only inside `body`, while the
    /// block is alive.
    public func withUnsafeMutableBytes<R, E: Error>(from offset: Int = 0,
                                                   _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        precondition(offset >= 0 && offset <= count, "offset outside guest memory")
        return try body(UnsafeMutableRawBufferPointer(start: base + offset, count: count - offset))
    }
}
