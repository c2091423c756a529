#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The pack's state and the pthread mutex that guards it.
///
/// A pthread mutex rather than `Synchronization.Mutex`: on Linux a contended
/// `Mutex` is handed from one thread to the next by the kernel (a
/// priority-inheritance futex), so the thread that gets it returns from a
/// system call without any atomic operation ThreadSanitizer sees, and TSan
/// would see no order between two critical sections. It knows
/// `pthread_mutex_lock` and `unlock`, so under TSan the pack's critical
/// sections are checked for what they are. The mutex lives in memory of its
/// own that never moves (a pthread mutex must not be copied).
final class PackLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: PackState

    init(_ state: consuming PackState) {
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

    /// Runs `body` on the state, holding the mutex.
    func withLock<Result, Failure: Error>(
        _ body: (inout PackState) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
