#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock over a `pthread_mutex_t` that never moves, with
/// the state it guards (`Lock()` when it guards nothing of its own).
///
/// The one lock every module uses: the program pack's state, the maps'
/// structure (buckets, free lists, ring positions; the kernel's per-bucket
/// and per-ring spinlocks), the run-lifetime tables. A pthread mutex rather
/// than `Synchronization.Mutex`, for two reasons: the package keeps its
/// macOS 14 floor, and on Linux a contended `Mutex` is handed from one
/// thread to the next by the kernel (a priority-inheritance futex), so the
/// thread that gets it returns from a system call without any atomic
/// operation ThreadSanitizer sees, and TSan would see no order between two
/// critical sections. It knows `pthread_mutex_lock` and `unlock`, so under
/// TSan critical sections are checked for what they are. The mutex lives in
/// memory of its own that never moves (a pthread mutex must not be copied).
public final class Lock<State: ~Copyable>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var state: State

    /// A lock guarding `state`, which is reached only through `withLock`.
    public init(_ state: consuming State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the state, holding the lock.
    @inlinable
    public func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}

extension Lock where State == Void {
    /// A lock that guards what its owner keeps beside it.
    public convenience init() { self.init(()) }

    /// Runs `body` holding the lock.
    @inlinable
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
