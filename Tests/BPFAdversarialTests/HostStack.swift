import Foundation

/// The host stack below the caller, filled with a pattern before a JIT run.
///
/// A JITed program's BPF stack is a block of the machine stack below the
/// frames of the call that enters it. The engines clear it at entry unless
/// the verifier proved that no read sees a byte not written first; when that
/// proof is wrong, the program reads whatever the host left there. Running
/// on a machine stack filled with a known pattern (instead of whatever the
/// test happened to leave, often zeros) makes such a read show: the
/// interpreter, whose stack starts zeroed, reads zeros.
enum HostStack {
    /// The byte every filled location holds.
    static let pattern: UInt8 = 0xA7
    /// How far below the caller the pattern reaches: more than the JIT's
    /// deepest stack (eight 512-byte frames) plus the frames of the run path.
    static let depth = 64 * 1024

    /// Fills `depth` bytes of machine stack below the caller, then runs
    /// `body`, which starts at the same stack depth and so finds the pattern
    /// wherever its callees have not written.
    @inline(never)
    static func dirtied<T>(_ body: () throws -> T) rethrows -> T {
        fill()
        return try body()
    }

    /// Writes the pattern into nested 1 KiB temporary allocations (Swift
    /// places those on the stack; larger ones may go to the heap) down to
    /// `depth` bytes below the caller. What lies between the blocks (each
    /// level's return address and saved registers) keeps its own contents;
    /// `HarnessTests.dirtiedStackIsSeenByAnUnclearedFrame` checks that a
    /// frame left uncleared sees the pattern.
    @inline(never)
    static func fill(levels: Int = depth / 1024) {
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 16) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: pattern)
            if levels > 1 { fill(levels: levels - 1) }
            sink &+= buffer.load(fromByteOffset: 512, as: UInt8.self)
        }
    }

    /// Whether `fill` reaches the machine stack. Under AddressSanitizer it
    /// does not: instrumented frames are laid out with redzones and their
    /// temporary allocations may live on ASan's own stacks, so the run
    /// path's frames, not the pattern, lie where the JIT's frame lands.
    static let fillsMachineStack: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") == nil

    /// Keeps the fill from being optimised away.
    nonisolated(unsafe) static var sink: UInt8 = 0
}
