#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// BPFKit's stand-in for CPUs in per-CPU maps and `bpf_get_smp_processor_id`.
///
/// The kernel runs a program with preemption disabled, so a per-CPU value is
/// touched by one program at a time. BPFKit runs programs on ordinary threads
/// that can migrate, so "CPU" means a fixed number of slots (`count`, the
/// host's configured processor count, at least 1), and each thread that runs
/// a program is given a slot the first time it asks (round robin) and keeps it
/// for its lifetime. With at most `count` threads running programs at once,
/// every thread owns its slot as a CPU would; with more, two threads can share
/// a slot, and their non-atomic updates of the same per-CPU value may race
/// (use atomics, as programs must for shared maps anyway). `withSlot` pins the
/// current thread to a chosen slot (tests, or a host that models CPUs).
public enum CPUSlots {
    /// Number of slots every per-CPU map holds per element.
    public static let count: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))

    /// The calling thread's slot, assigned on first use.
    public static var current: Int {
        if let value = pthread_getspecific(slotKey) { return Int(bitPattern: value) - 1 }
        let slot = nextSlot.withLock { () -> Int in
            let s = counter.value % count
            counter.value += 1
            return s
        }
        set(slot)
        return slot
    }

    /// Runs `body` with the current thread pinned to `slot`, then restores the previous slot.
    public static func withSlot<R, E: Error>(_ slot: Int, _ body: () throws(E) -> R) throws(E) -> R {
        precondition(slot >= 0 && slot < count, "CPU slot \(slot) out of range 0..<\(count)")
        let previous = pthread_getspecific(slotKey)
        set(slot)
        defer { pthread_setspecific(slotKey, previous) }
        return try body()
    }

    private static func set(_ slot: Int) {
        pthread_setspecific(slotKey, UnsafeRawPointer(bitPattern: slot + 1))
    }

    private final class Counter: @unchecked Sendable { var value = 0 }
    private static let counter = Counter()
    private static let nextSlot = Lock()
    private static let slotKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
