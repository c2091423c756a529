import BPFISA
/// `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`: preallocated values
/// indexed by a 4-byte key; elements always exist (zero-initialised) and
/// cannot be deleted. Global data sections (`.data`, `.rodata`, `.bss`) are
/// single-element arrays.
public final class ArrayMap: BPFMap {
    public let definition: MapDefinition
    public let descriptor: Slab
    /// Element `index` for CPU slot `s` is at `index * slots + s`.
    let values: Slab
    let slots: Int
    // The values' bytes, written directly by program updates (no slab
    // reference is touched on that path, so nothing is retained).
    private let valueStart: UInt
    private let valueStride: Int
    /// Whether programs may change elements (not `BPF_F_RDONLY_PROG`).
    private let programWritable: Bool
    /// The byte order of the 4-byte keys (the index), the order of the
    /// machine the map's object was built for: a `bpfeb` program stores its
    /// keys big-endian, as would the user space of a big-endian machine.
    public let indexOrder: ByteOrder

    init(validated definition: MapDefinition, indexOrder: ByteOrder = .host) {
        self.definition = definition
        self.indexOrder = indexOrder
        descriptor = MapDescriptor.make(definition)
        slots = definition.type.isPerCPU ? CPUSlots.count : 1
        values = Slab(count: definition.maxEntries * slots, stride: definition.valueStride,
                      usableSize: definition.valueSize, writable: !definition.flags.contains(.readOnlyProgram))
        valueStart = UInt(bitPattern: values.base)
        valueStride = definition.valueStride
        programWritable = !definition.flags.contains(.readOnlyProgram)
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [values.region] }

    /// Address of element `index`'s value (slot 0 for per-CPU arrays): what a
    /// `.mapValueByIndex` load of global data is rewritten to.
    public func valueAddress(index: Int) -> UInt64 {
        precondition(index >= 0 && index < definition.maxEntries)
        return values.address(of: index * slots)
    }

    private func index(_ key: UnsafeRawBufferPointer) -> Int? {
        guard key.count == 4 else { return nil }
        let i = Int(ordered(key.loadUnaligned(as: UInt32.self)))
        return i < definition.maxEntries ? i : nil
    }

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 {
        guard let i = index(key) else { return 0 }
        return values.address(of: i * slots + (slots == 1 ? 0 : CPUSlots.current))
    }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        // Every program-side write path (helper bodies, native and proven
        // entries) comes here: the map's program-side flags are checked once.
        guard programWritable else { throw .readOnly(map: definition.name) }
        let flags = try UpdateFlags(raw: flags)
        guard let i = index(key) else { throw .full }
        // Elements of an array always exist.
        if flags == .noExist { throw .keyExists }
        let size = definition.valueSize
        guard let source = value.baseAddress, value.count >= size else { throw .invalidArgument("a value shorter than \(size) bytes") }
        Slab.copy(UnsafeMutableRawPointer(bitPattern: valueStart)! + (i * slots + (slots == 1 ? 0 : CPUSlots.current)) * valueStride, from: source, count: size)
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        guard programWritable else { throw .readOnly(map: definition.name) }
        throw .invalidArgument("elements of an \(definition.type) map cannot be deleted")
    }

    @inline(__always)
    private func ordered(_ raw: UInt32) -> UInt32 { indexOrder == .host ? raw : raw.byteSwapped }

    private func hostIndex(_ key: [UInt8]) throws(MapError) -> Int {
        try checkKey(key)
        let i = Int(ordered(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        guard i < definition.maxEntries else { throw .noSuchKey }
        return i
    }

    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] {
        let i = try hostIndex(key)
        if slots == 1 { return values.copyOut(i, count: definition.valueSize) }
        var out: [UInt8] = []
        out.reserveCapacity(hostValueSize)
        for s in 0..<slots { out += values.copyOut(i * slots + s, count: definition.valueStride) }
        return out
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        try checkKey(key)
        try checkValue(value)
        let i = Int(ordered(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        guard i < definition.maxEntries else { throw .full }
        if flags == .noExist { throw .keyExists }
        if slots == 1 { values.copyIn(value, to: i); return }
        let stride = definition.valueStride
        for s in 0..<slots {
            values.copyIn(Array(value[s * stride..<s * stride + definition.valueSize]), to: i * slots + s)
        }
    }

    public func delete(key: [UInt8]) throws(MapError) {
        _ = try hostIndex(key)
        throw .invalidArgument("elements of an \(definition.type) map cannot be deleted")
    }

    public func keys() -> [[UInt8]] {
        (0..<definition.maxEntries).map { i in withUnsafeBytes(of: ordered(UInt32(i))) { Array($0) } }
    }
}
