import BPFRuntime
import CBPFAtomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `BPF_MAP_TYPE_PROG_ARRAY`: slots holding programs for `bpf_tail_call`.
///
/// A slot holds a `TailCallTarget` (one program, prepared for one or more
/// engines) and a generation number that grows on every change of the slot.
/// Programs cannot look up, update or delete entries (the kernel's verifier
/// refuses that too); the host sets and clears them.
///
/// Three views of one slot are kept consistent under the array's lock:
///
/// - the target itself, which the interpreter reads (`target(at:for:)`);
/// - a table of native entries, one column of `maxEntries` words per engine
///   (`TailCallEngine.column`), which JITed indirect tail calls read without
///   a lock: each word is written with one atomic store;
/// - the direct call sites of JITed callers registered for the slot (the
///   kernel's poke descriptors, `prog_array_map_poke_run`), retargeted on
///   every change.
///
/// Rules, as in the kernel: all programs in an array and all its callers are
/// of one program type (fixed by the first of them); and since a JITed caller
/// can only jump to a preparation for its own engine, an entry must be
/// prepared for the engine of every caller attached at the time it is set.
///
/// Nothing that may release a program happens under the lock: a released
/// program detaches from the arrays it calls through, which takes their locks.
///
/// A program that leaves a slot is retired, not dropped: a run in flight may
/// still be running it, or be about to jump to it through an entry or a
/// direct site it read before the change. It is released (its code freed,
/// its emulated image unmapped) once every run in flight at the change has
/// ended (`RunLifetime`, the kernel's RCU grace period before it frees a
/// program), checked at each later change of the array; so slots can change
/// indefinitely in flat memory.
public final class ProgramArray: BPFMap, TailCallSlots, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    private let lock = Lock()
    private var slots: [TailCallTarget?]
    private var slotGenerations: [UInt64]
    private var changes: UInt64 = 0
    /// `TailCallEngine.columnCount` columns of `maxEntries` native entries each.
    private let table: UnsafeMutablePointer<UInt64>
    /// The program type of every entry and caller, once the first fixes it.
    private var ownerType: String?
    /// Attached callers per engine.
    private var callers: [TailCallEngine: Int] = [:]
    /// Direct call sites per slot.
    private var pokes: [Int: [ObjectIdentifier: any TailCallPoke]] = [:]
    /// Programs that left a slot, until no run can be using them (see the type's comment).
    private let retired = RetiredObjects<TailCallTarget>()

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        slots = Array(repeating: nil, count: definition.maxEntries)
        slotGenerations = Array(repeating: 0, count: definition.maxEntries)
        let words = TailCallEngine.columnCount * definition.maxEntries
        table = calloc(words, 8)!.bindMemory(to: UInt64.self, capacity: words)
    }

    deinit { free(table) }

    public var valueRegions: [SlabRegion] { [] }

    public var maxEntries: Int { definition.maxEntries }

    /// Number of changes made to the array so far (every set or clear).
    public var generation: UInt64 { lock.withLock { changes } }

    /// The program type its entries and callers have, once one of them fixed it.
    public var programType: String? { lock.withLock { ownerType } }

    private func checkIndex(_ index: Int) throws(MapError) {
        guard index >= 0, index < definition.maxEntries else { throw .full }
    }

    /// Puts `target` in slot `index`, replacing what was there. Fails when
    /// the program is of another type than the array's programs and callers,
    /// or lacks a preparation for the engine of an attached caller.
    public func set(_ target: TailCallTarget, at index: Int) throws(MapError) {
        try checkIndex(index)
        let old = try lock.withLock { () throws(MapError) -> TailCallTarget? in
            if let ownerType, ownerType != target.programType {
                throw .invalidArgument("prog_array '\(name)' holds \(ownerType) programs; \(target) is a \(target.programType) program")
            }
            let missing = callers.keys.filter { target.prepared(for: $0) == nil }.map(\.name).sorted()
            if !missing.isEmpty {
                throw .invalidArgument("\(target) is not prepared for \(missing.joined(separator: ", ")), which runs callers of prog_array '\(name)'")
            }
            ownerType = target.programType
            changes += 1
            let old = slots[index]
            slots[index] = target
            slotGenerations[index] = changes
            // New entries first, then the direct sites (each writes its target before dropping its bypass).
            for column in 0..<TailCallEngine.columnCount { store(0, column: column, index: index) }
            for (engine, prepared) in target.preparations { store(prepared.tailCallEntry, column: engine.column, index: index) }
            for poke in (pokes[index] ?? [:]).values { poke.retarget(target.prepared(for: poke.engine)?.tailCallEntry) }
            return old === target ? nil : old
        }
        retire(old)
    }

    /// Empties slot `index`; ENOENT if it was empty.
    public func clear(at index: Int) throws(MapError) {
        try checkIndex(index)
        let old = try lock.withLock { () throws(MapError) -> TailCallTarget? in
            guard let old = slots[index] else { throw .noSuchKey }
            changes += 1
            slots[index] = nil
            slotGenerations[index] = changes
            // Direct sites first (each restores its bypass), then the entries.
            for poke in (pokes[index] ?? [:]).values { poke.retarget(nil) }
            for column in 0..<TailCallEngine.columnCount { store(0, column: column, index: index) }
            return old
        }
        retire(old)
    }

    /// Keeps `old`, just unlinked, until no run can be using it, and lets go
    /// of the earlier ones no run can be using any more (after the lock: a
    /// released program detaches from the arrays it calls through).
    private func retire(_ old: TailCallTarget?) {
        if let old { retired.retire(old) }
        let released = retired.collect()
        withExtendedLifetime(released) {}
    }

    /// Programs that left a slot and still wait for runs in flight to end.
    public var retiredCount: Int { retired.count }

    /// Empties every slot and lets go of every program the array held.
    /// Only when no run of a caller can be in flight: a program array and the
    /// programs in it usually keep each other alive (each prepared program
    /// holds its object's maps through its helpers), so an embedder that is
    /// done with an object breaks the cycle here, as the kernel clears a
    /// prog_array when its last user reference goes.
    public func removeAll() {
        // Programs are released after the lock: a released caller detaches, which locks.
        let released: ([TailCallTarget?], [TailCallTarget]) = lock.withLock {
            let held = (slots, retired.removeAll())
            for index in slots.indices where slots[index] != nil {
                changes += 1
                slots[index] = nil
                slotGenerations[index] = changes
                for poke in (pokes[index] ?? [:]).values { poke.retarget(nil) }
                for column in 0..<TailCallEngine.columnCount { store(0, column: column, index: index) }
            }
            return held
        }
        withExtendedLifetime(released) {}
    }

    /// The program in slot `index` (nil when empty or out of range) and the
    /// generation at which the slot last changed.
    public func entry(at index: Int) -> (target: TailCallTarget?, generation: UInt64) {
        guard index >= 0, index < definition.maxEntries else { return (nil, 0) }
        return lock.withLock { (slots[index], slotGenerations[index]) }
    }

    private func store(_ value: UInt64, column: Int, index: Int) {
        _ = bpf_atomic_exchange64(table + column * definition.maxEntries + index, value)
    }

    // MARK: TailCallSlots

    public func attachCaller(engine: TailCallEngine, programType: String) throws(TailCallError) -> TailCallAttachment {
        try lock.withLock { () throws(TailCallError) in
            if let ownerType, ownerType != programType {
                throw TailCallError("a \(programType) program cannot tail-call through prog_array '\(name)', which holds \(ownerType) programs")
            }
            for (index, slot) in slots.enumerated() {
                if let slot, slot.prepared(for: engine) == nil {
                    throw TailCallError("prog_array '\(name)' slot \(index) holds \(slot), not prepared for \(engine.name), the engine of this caller")
                }
            }
            ownerType = programType
            callers[engine, default: 0] += 1
        }
        return TailCallAttachment(slots: self) { [self] in
            lock.withLock {
                callers[engine, default: 1] -= 1
                if callers[engine] == 0 { callers[engine] = nil }
            }
        }
    }

    public func target(at index: Int, for engine: TailCallEngine) -> (any TailCallable)? {
        guard index >= 0, index < definition.maxEntries else { return nil }
        return lock.withLock { slots[index]?.prepared(for: engine) }
    }

    public func nativeEntries(for engine: TailCallEngine) -> UInt64 {
        UInt64(UInt(bitPattern: table + engine.column * definition.maxEntries))
    }

    public func addPoke(_ poke: any TailCallPoke, at index: Int) {
        guard index >= 0, index < definition.maxEntries else { return }
        lock.withLock {
            pokes[index, default: [:]][ObjectIdentifier(poke)] = poke
            poke.retarget(slots[index]?.prepared(for: poke.engine)?.tailCallEntry)
        }
    }

    public func removePoke(_ poke: any TailCallPoke) {
        lock.withLock {
            for index in Array(pokes.keys) {
                pokes[index]?[ObjectIdentifier(poke)] = nil
                if pokes[index]?.isEmpty == true { pokes[index] = nil }
            }
        }
    }

    /// Number of direct call sites registered for slot `index` (tests, dumps).
    public func pokeCount(at index: Int) -> Int { lock.withLock { pokes[index]?.count ?? 0 } }

    // MARK: BPFMap

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 { 0 }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        throw .unsupported("updating a prog_array from a program")
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        throw .unsupported("deleting from a prog_array in a program")
    }

    private func hostIndex(_ key: [UInt8]) throws(MapError) -> Int {
        try checkKey(key)
        let i = Int(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        try checkIndex(i)
        return i
    }

    /// The slot's generation as a 4-byte value (the kernel returns a program id); ENOENT when empty.
    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] {
        let (target, generation) = entry(at: try hostIndex(key))
        guard target != nil else { throw .noSuchKey }
        return withUnsafeBytes(of: UInt32(truncatingIfNeeded: generation)) { Array($0) }
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        _ = try hostIndex(key)
        throw .unsupported("updating a prog_array with raw bytes (use set(_:at:) with a prepared program)")
    }

    public func delete(key: [UInt8]) throws(MapError) {
        try clear(at: try hostIndex(key))
    }

    public func keys() -> [[UInt8]] {
        lock.withLock {
            slots.indices.filter { slots[$0] != nil }.map { i in withUnsafeBytes(of: UInt32(i)) { Array($0) } }
        }
    }
}
