import BPFSync
import CBPFAtomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a run holds, and when memory it may be using can be reused: BPFKit's
/// counterpart of the kernel's RCU read side around a program.
///
/// Every engine brackets a run (the outermost entry, with every tail call it
/// makes) with `enter` and `exit`. While a run is in flight it may hold
/// pointers into map values it looked up and may jump to the programs in
/// program-array slots it read. Memory unlinked from the shared structures
/// (a deleted hash element, a replaced tail-call target) is stamped with
/// `stamp()` and reused or freed only once `bound()` exceeds the stamp: every
/// run in flight when it was unlinked has ended. Runs that start later
/// cannot reach it.
///
/// Cost on the run path: a thread-local load, a load and a store on entry,
/// a store on exit; no lock, no atomic read-modify-write, and on Linux no
/// fence (reclaimers order running threads with membarrier(2) instead).
///
/// A run also owns what helpers acquired for it and did not hand back: work
/// queued with `atRunEnd` (a ring-buffer reservation left open) is done when
/// the outermost run ends, on every engine.
public enum RunLifetime {
    /// Enters a run on the calling thread. Pair with `exit`.
    @inlinable @inline(__always)
    public static func enter() -> RunSlot { RunSlot(raw: bpf_run_enter()) }

    /// Leaves a run entered with `enter`; at the end of the outermost run,
    /// first does the run-end work helpers queued.
    @inlinable @inline(__always)
    public static func exit(_ slot: RunSlot) {
        if bpf_run_exit_has_work(slot.raw) != 0 { RunEndWork.finish(slot.raw) }
        bpf_run_exit(slot.raw)
    }

    /// Runs `body` as a run (for engines and for tests that play one).
    @inlinable @inline(__always)
    public static func withRun<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let slot = enter()
        defer { exit(slot) }
        return try body()
    }

    /// The calling thread's outermost run in flight (unique in the process), or 0 outside runs.
    @inlinable
    public static var currentRun: UInt64 { bpf_run_current() }

    /// Whether the calling thread is running a program.
    @inlinable
    public static var inRun: Bool { bpf_run_current() != 0 }

    /// Queues `work` for the end of the calling thread's current run (once
    /// per object and run); does nothing outside runs.
    public static func atRunEnd(_ work: any RunEndHook) {
        let run = bpf_run_current()
        guard run != 0 else { return }
        RunEndWork.add(work, run: run)
    }

    /// The stamp for memory unlinked just now (call after the unlinking stores).
    @inlinable @inline(__always)
    public static func stamp() -> UInt64 { bpf_epoch_stamp() }

    /// A bound such that memory stamped below it is used by no run in flight
    /// and reachable by no later one. Advances the epoch and orders every
    /// running thread: microseconds, so call it only when something waits.
    public static func bound() -> UInt64 { bpf_epoch_bound() }

    /// The highest bound computed so far (one load, no ordering of other
    /// threads): memory stamped below it may be reused.
    @inlinable
    public static var knownBound: UInt64 { bpf_epoch_known_bound() }

    /// Waits until every run in flight when `stamp` was taken has ended.
    /// Must not be called from inside a run (it would wait for itself).
    public static func wait(for stamp: UInt64) {
        precondition(!inRun, "RunLifetime.wait called inside a run, which would wait for itself")
        var spins = 0
        while bound() <= stamp {
            spins += 1
            if spins > 16 { usleep(50) } else { sched_yield() }
        }
    }

    /// Runs in flight on every thread now (tests and statistics).
    public static var runsInFlight: Int { Int(bpf_epoch_runs_in_flight()) }
}

/// The calling thread's run slot, between `RunLifetime.enter` and `exit`.
public struct RunSlot {
    @usableFromInline let raw: UnsafeMutablePointer<bpf_run_slot>
    @inlinable init(raw: UnsafeMutablePointer<bpf_run_slot>) { self.raw = raw }
}

/// Something a helper acquired for a run and must give back when the run
/// ends (BPFMaps' ring buffer releases the reservations the run left open).
public protocol RunEndHook: AnyObject, Sendable {
    /// Run `run` ended: release what it still holds. Called on the run's thread.
    func runEnded(_ run: UInt64)
}

/// Run-end work by thread slot (rare: only runs whose helpers queued some).
@usableFromInline
enum RunEndWork {
    private final class Table: @unchecked Sendable {
        let lock = Lock()
        var work: [Int64: (run: UInt64, hooks: [any RunEndHook])] = [:]
    }
    private static let table = Table()

    static func add(_ hook: any RunEndHook, run: UInt64) {
        let index = bpf_run_slot_index()
        let added: Bool = table.lock.withLock {
            var entry = table.work[index] ?? (run, [])
            if entry.run != run { entry = (run, []) }
            guard !entry.hooks.contains(where: { $0 === hook }) else { return false }
            entry.hooks.append(hook)
            table.work[index] = entry
            return true
        }
        if added { bpf_run_note_pending() }
    }

    @usableFromInline @inline(never)
    static func finish(_ slot: UnsafeMutablePointer<bpf_run_slot>) {
        let index = Int64(slot.pointee.index)
        let entry = table.lock.withLock { table.work.removeValue(forKey: index) }
        bpf_run_clear_pending(slot)
        guard let entry, entry.run == slot.pointee.run else { return }
        for hook in entry.hooks { hook.runEnded(entry.run) }
    }
}

/// Objects unlinked from a shared structure, kept until no run can still use
/// them (`RunLifetime`): retired tail-call targets, for one.
public final class RetiredObjects<Object: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    private var retired: [(object: Object, stamp: UInt64)] = []

    public init() {}

    /// Keeps `object`, unlinked just now, until no run can be using it.
    public func retire(_ object: Object) {
        let stamp = RunLifetime.stamp()
        lock.withLock { retired.append((object, stamp)) }
    }

    /// Takes the objects no run can be using any more (the caller drops them,
    /// outside its own locks: dropping may free a program). Orders the other
    /// threads (`RunLifetime.bound()`, microseconds) only once `batch`
    /// objects wait; below that, frees what an earlier bound already covers.
    public func collect(batch: Int = 8) -> [Object] {
        let waiting = lock.withLock { retired.count }
        guard waiting > 0 else { return [] }
        let bound = waiting >= batch ? RunLifetime.bound() : RunLifetime.knownBound
        return lock.withLock {
            let ready = retired.filter { $0.stamp < bound }.map(\.object)
            retired.removeAll { $0.stamp < bound }
            return ready
        }
    }

    /// Takes everything (when no run can be in flight).
    public func removeAll() -> [Object] {
        lock.withLock {
            defer { retired.removeAll() }
            return retired.map(\.object)
        }
    }

    /// Objects still waiting.
    public var count: Int { lock.withLock { retired.count } }
}
