/// Maps a native code offset in a JIT image back to the BPF instruction it
/// was generated for, so that faults, helper failures and the instruction
/// limit name a BPF pc like the interpreter does.
///
/// The JIT core keeps, for every BPF instruction, the offset of its first
/// native byte; that array is all this needs. Instructions that produce no
/// code (the second slot of a 64-bit immediate load) share the offset of the
/// next one and are never named.
public struct NativePCMap: Sendable {
    private enum Storage: Sendable {
        case offsets([Int])
        case function(@Sendable (Int) -> Int?)
    }

    private let storage: Storage

    /// `offsets[pc]` is the native offset of BPF instruction `pc`'s first
    /// byte; offsets never decrease.
    public init(instructionOffsets offsets: [Int]) {
        precondition(zip(offsets, offsets.dropFirst()).allSatisfy { $0 <= $1 },
                     "native offsets of consecutive instructions must not decrease")
        storage = .offsets(offsets)
    }

    /// Any mapping from a native offset to a BPF pc (nil: not in the program).
    public init(_ lookup: @escaping @Sendable (_ nativeOffset: Int) -> Int?) {
        storage = .function(lookup)
    }

    /// The BPF instruction whose native code contains `offset`.
    public func bpfPC(forNativeOffset offset: Int) -> Int? {
        switch storage {
        case .function(let lookup):
            return lookup(offset)
        case .offsets(let offsets):
            guard offset >= 0, let first = offsets.first, offset >= first else { return nil }
            // The last instruction starting at or before `offset`.
            var low = 0, high = offsets.count
            while high - low > 1 {
                let middle = (low + high) / 2
                if offsets[middle] <= offset { low = middle } else { high = middle }
            }
            return low
        }
    }
}
