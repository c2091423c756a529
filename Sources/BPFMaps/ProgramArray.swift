/// `BPF_MAP_TYPE_PROG_ARRAY`: slots holding programs for `bpf_tail_call`.
///
/// BPFKit's maps do not know engines, so a slot holds an opaque `Sendable`
/// reference (the engine's prepared program, chosen by whoever fills the
/// slot) and a generation number that grows on every change of the slot,
/// so callers can tell a replaced program from the one they saw. Programs
/// cannot look up, update or delete entries (the kernel's verifier refuses
/// that too); the host sets and clears them.
public final class ProgramArray: BPFMap, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    private let lock = Lock()
    private var slots: [(any Sendable)?]
    private var slotGenerations: [UInt64]
    private var changes: UInt64 = 0

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        slots = Array(repeating: nil, count: definition.maxEntries)
        slotGenerations = Array(repeating: 0, count: definition.maxEntries)
    }

    public var valueRegions: [SlabRegion] { [] }

    /// Number of changes made to the array so far (every set or clear).
    public var generation: UInt64 { lock.withLock { changes } }

    private func checkIndex(_ index: Int) throws(MapError) {
        guard index >= 0, index < definition.maxEntries else { throw .full }
    }

    /// Puts `program` in slot `index`, replacing what was there.
    public func set(_ program: any Sendable, at index: Int) throws(MapError) {
        try checkIndex(index)
        lock.withLock {
            changes += 1
            slots[index] = program
            slotGenerations[index] = changes
        }
    }

    /// Empties slot `index`; ENOENT if it was empty.
    public func clear(at index: Int) throws(MapError) {
        try checkIndex(index)
        try lock.withLock { () throws(MapError) in
            guard slots[index] != nil else { throw .noSuchKey }
            changes += 1
            slots[index] = nil
            slotGenerations[index] = changes
        }
    }

    /// The program in slot `index` (nil when empty or out of range) and the
    /// generation at which the slot last changed.
    public func entry(at index: Int) -> (program: (any Sendable)?, generation: UInt64) {
        guard index >= 0, index < definition.maxEntries else { return (nil, 0) }
        return lock.withLock { (slots[index], slotGenerations[index]) }
    }

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
        let (program, generation) = entry(at: try hostIndex(key))
        guard program != nil else { throw .noSuchKey }
        return withUnsafeBytes(of: UInt32(truncatingIfNeeded: generation)) { Array($0) }
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        _ = try hostIndex(key)
        throw .unsupported("updating a prog_array with raw bytes (use set(_:at:))")
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
