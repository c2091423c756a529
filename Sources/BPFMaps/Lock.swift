#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CBPFAtomics
@_exported import BPFSync

/// A spin lock over one word of memory its owner allocated and keeps (it
/// never moves): what the hash maps' writers take, like the kernel's raw
/// bucket spinlocks. Taking it free is one compare-and-swap and releasing it
/// one store, with no object to reach (so no reference counting) and no call
/// into the C library; a waiter spins on plain loads and yields the CPU
/// every so often, so a holder that was preempted still gets to finish.
/// Not reentrant. Critical sections under it are short and never block.
struct SpinLock {
    let word: UnsafeMutablePointer<UInt64>

    @inline(__always)
    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        if bpf_atomic_compare_exchange64(word, 0, 1) != 0 { wait() }
        defer { bpf_store_release64(word, 0) }
        return try body()
    }

    @inline(never)
    private func wait() {
        var spins = 0
        repeat {
            while bpf_load_relaxed64(word) != 0 {
                spins += 1
                if spins >= 64 { sched_yield(); spins = 0 }
            }
        } while bpf_atomic_compare_exchange64(word, 0, 1) != 0
    }
}
