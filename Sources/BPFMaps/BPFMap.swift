import BPFISA

/// A map instance shared by the host and every program that references it.
///
/// Two faces: the program side works on raw key and value bytes found in the
/// program's memory and reports failures as `MapError` (which helpers turn
/// into `-errno`); the host side copies bytes in and out and throws. Values
/// live in `Slab`s, so a lookup hands programs a host address that stays
/// valid while the element exists.
public protocol BPFMap: AnyObject, Sendable {
    var definition: MapDefinition { get }
    /// A small block describing the map (type, sizes) whose address is the
    /// map's handle: 64-bit map loads are rewritten to it and map helpers
    /// resolve it. Programs cannot read it (it is in no region).
    var descriptor: Slab { get }
    /// The value memory programs may touch through pointers from lookups.
    var valueRegions: [SlabRegion] { get }

    /// Address of the value for `key` (this CPU slot's, for per-CPU maps), or 0.
    func programLookup(key: UnsafeRawBufferPointer) -> UInt64
    /// Creates or updates the element (this CPU slot's value, for per-CPU maps).
    func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError)
    func programDelete(key: UnsafeRawBufferPointer) throws(MapError)

    /// A copy of the value (for per-CPU maps: every slot's value, each padded to 8 bytes, as the kernel returns them).
    func lookup(key: [UInt8]) throws(MapError) -> [UInt8]
    /// Creates or updates from the host (for per-CPU maps: every slot's value, each padded to 8 bytes).
    func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError)
    func delete(key: [UInt8]) throws(MapError)
    /// The keys present now, in the map's iteration order (a snapshot).
    func keys() -> [[UInt8]]
}

extension BPFMap {
    /// The value identifying this map in rewritten programs: its descriptor's address.
    public var handle: UInt64 { descriptor.start }

    public var name: String { definition.name }

    /// Bytes a host lookup returns and a host update expects.
    public var hostValueSize: Int {
        definition.type.isPerCPU ? definition.valueStride * CPUSlots.count : definition.valueSize
    }

    /// Key and value pairs, for dumps (a snapshot; elements may change meanwhile).
    public func entries() -> [(key: [UInt8], value: [UInt8])] {
        keys().compactMap { key in (try? lookup(key: key)).map { (key, $0) } }
    }

    /// Checks a host key's length.
    func checkKey(_ key: [UInt8]) throws(MapError) {
        guard key.count == definition.keySize else {
            throw .invalidArgument("key of \(key.count) bytes for map '\(name)' whose keys are \(definition.keySize) bytes")
        }
    }

    /// Checks a host value's length.
    func checkValue(_ value: [UInt8]) throws(MapError) {
        guard value.count == hostValueSize else {
            throw .invalidArgument("value of \(value.count) bytes for map '\(name)' whose values are \(hostValueSize) bytes"
                + (definition.type.isPerCPU ? " (\(CPUSlots.count) CPU slots of \(definition.valueStride))" : ""))
        }
    }

    /// Convenience host update with `flags` as a raw value.
    public func update(key: [UInt8], value: [UInt8]) throws(MapError) {
        try update(key: key, value: value, flags: .any)
    }
}

/// Builds descriptor blocks: magic, type, key size, value size, max entries.
enum MapDescriptor {
    static let magic: UInt64 = 0x5046_4B4D_4150_0001 // "PFKMAP" v1

    static func make(_ definition: MapDefinition) -> Slab {
        let slab = Slab(count: 1, stride: 32, usableSize: 32, writable: false)
        slab.store(magic, at: 0)
        slab.store(definition.type.rawValue, at: 8)
        slab.store(UInt32(definition.keySize), at: 12)
        slab.store(UInt32(definition.valueSize), at: 16)
        slab.store(UInt32(definition.maxEntries), at: 20)
        return slab
    }

    /// Byte offset of the map object's address (unretained) in the block.
    static let objectOffset = 24

    /// Records `map` in its own descriptor, for `object(handle:)`.
    static func attach(_ map: AnyObject, to slab: Slab) {
        slab.store(UInt64(UInt(bitPattern: Unmanaged.passUnretained(map).toOpaque())), at: objectOffset)
    }

    /// The map object whose handle is `handle`. Only for handles the
    /// verifier proved to be a map's (`HelperCallProof.mapHandle`): any
    /// other value would be dereferenced.
    @inline(__always)
    static func object<Map: AnyObject>(handle: UInt64, as type: Map.Type) -> Unmanaged<Map> {
        let raw = UnsafeRawPointer(bitPattern: UInt(handle))!.load(fromByteOffset: objectOffset, as: UInt.self)
        return Unmanaged<Map>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)
    }
}

/// Creates the map a definition describes, after validating it, for
/// programs in the host's byte order.
public func makeMap(_ definition: MapDefinition) throws(MapError) -> any BPFMap {
    try makeMap(definition, byteOrder: .host)
}

/// Creates the map a definition describes, after validating it.
/// `byteOrder` is the order of the machine its programs run on (the
/// object's), in which array maps read their 4-byte index keys.
public func makeMap(_ definition: MapDefinition, byteOrder: ByteOrder) throws(MapError) -> any BPFMap {
    try definition.validate()
    switch definition.type {
    case .array, .perCPUArray: return ArrayMap(validated: definition, indexOrder: byteOrder)
    case .hash, .lruHash, .perCPUHash, .lruPerCPUHash: return HashMap(validated: definition)
    case .programArray: return ProgramArray(validated: definition)
    case .ringBuffer: return RingBuffer(validated: definition)
    case .deviceMap, .deviceMapHash, .cpuMap, .socketMap: return RedirectMap(validated: definition)
    case .perfEventArray: return PerfEventArray(validated: definition)
    case .arrayOfMaps, .hashOfMaps: return MapOfMaps(validated: definition, indexOrder: byteOrder)
    }
}

/// The maps of one loaded object, found by handle at helper-call time.
public struct MapTable: Sendable {
    public let maps: [any BPFMap]
    /// (handle, index) sorted by handle.
    private let sortedHandles: [(UInt64, Int)]
    /// Every value region of every map, for the engines' memory checks.
    public let regions: MapRegionTable

    public init(_ maps: [any BPFMap]) {
        self.maps = maps
        sortedHandles = maps.enumerated().map { ($1.handle, $0) }.sorted { $0.0 < $1.0 }
        regions = MapRegionTable(maps: maps)
    }

    /// The map whose handle is `handle`, or nil (not a map of this object).
    public func map(handle: UInt64) -> (any BPFMap)? {
        var low = 0, high = sortedHandles.count
        while low < high {
            let mid = (low + high) / 2
            if sortedHandles[mid].0 < handle { low = mid + 1 } else { high = mid }
        }
        guard low < sortedHandles.count, sortedHandles[low].0 == handle else { return nil }
        return maps[sortedHandles[low].1]
    }

    public subscript(name: String) -> (any BPFMap)? { maps.first { $0.name == name } }
}

/// `Array.withUnsafeBytes` for bodies with typed throws (it only rethrows untyped errors).
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(MapError) -> R) throws(MapError) -> R {
    let result: Result<R, MapError> = bytes.withUnsafeBytes { buffer in Result { () throws(MapError) in try body(buffer) } }
    return try result.get()
}
