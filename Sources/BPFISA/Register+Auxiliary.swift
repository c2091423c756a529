extension Register {
    /// The JITs' auxiliary register (the kernel's `BPF_REG_AX`): number 11,
    /// which no encoded program can name (decoding rejects it). Only
    /// rewriting passes inside a JIT use it, constant blinding first of all
    /// (`JITBlinding`); each backend maps it to a native register that its
    /// own lowering of the rewritten instructions never clobbers.
    @inlinable public static var ax: Register { Register(unchecked: 11) }
}
