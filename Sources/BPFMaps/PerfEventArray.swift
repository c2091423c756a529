/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one slot per CPU, each holding the perf
/// event buffer a consumer opened on that CPU; `bpf_perf_event_output`
/// appends a sample to the buffer of the CPU it names.
///
/// In the kernel a slot holds a perf event file descriptor and the consumer
/// reads the event's mmapped ring (libbpf's `perf_buffer`). Here the host
/// opens a slot's buffer with `open(cpu:pages:)` (or `openAll`), and drains
/// its samples with `drain(cpu:)` / `consume()`. As in the kernel:
///
/// - A sample takes `8 + 4 + size` bytes rounded up to 8 (the
///   `perf_event_header` and the raw size word of a `PERF_RECORD_SAMPLE`
///   with `PERF_SAMPLE_RAW`); one that does not fit is lost (counted in
///   `lostSamples(cpu:)`) and the helper returns -ENOSPC.
/// - An index past `max_entries` is -E2BIG, an empty slot -ENOENT, and a
///   slot of another CPU than the running one -EOPNOTSUPP (`BPF_F_CURRENT_CPU`
///   always names the running one, `CPUSlots.current`).
/// - `max_entries` 0 means one slot per CPU (libbpf sets it so).
/// - Programs cannot look up, update or delete slots; host lookups answer
///   EOPNOTSUPP; a host update opens the slot (the value, a descriptor in the
///   kernel, is ignored) and a delete closes it.
public final class PerfEventArray: BPFMap, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    private let lock = Lock()

    private struct Buffer {
        var capacity: Int
        var used = 0
        var samples: [[UInt8]] = []
        var lost = 0
    }
    private var buffers: [Buffer?]

    /// `BPF_F_CURRENT_CPU` (`BPF_F_INDEX_MASK`): the slot of the running CPU.
    public static let currentCPU: UInt64 = 0xffff_ffff
    public static let indexMask: UInt64 = 0xffff_ffff
    /// `BPF_F_CTXLEN_MASK`: bytes of the context (the packet, for XDP) appended to the sample.
    public static let contextLengthMask: UInt64 = 0xfffff << 32
    public static let pageSize = 4096

    init(validated definition: MapDefinition) {
        var definition = definition
        if definition.maxEntries == 0 { definition.maxEntries = CPUSlots.count }
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        buffers = Array(repeating: nil, count: definition.maxEntries)
        MapDescriptor.attach(self, to: descriptor)
    }

    public var valueRegions: [SlabRegion] { [] }

    /// Bytes a sample of `size` bytes takes in a buffer.
    public static func footprint(_ size: Int) -> Int { (8 + 4 + size + 7) & ~7 }

    // MARK: Consumer

    /// Opens CPU `cpu`'s buffer with `pages` pages of 4,096 bytes (what
    /// `perf_event_open` and the mmap of its ring do), emptying any previous one.
    public func open(cpu: Int, pages: Int = 8) throws(MapError) {
        guard cpu >= 0, cpu < definition.maxEntries else { throw .full }
        guard pages > 0, pages <= 1 << 16 else { throw .invalidArgument("\(pages) pages: a buffer has 1 to 65,536 pages") }
        lock.withLock { buffers[cpu] = Buffer(capacity: pages * Self.pageSize) }
    }

    /// Opens every CPU's buffer (libbpf's `perf_buffer__new`).
    public func openAll(pages: Int = 8) throws(MapError) {
        for cpu in 0..<definition.maxEntries { try open(cpu: cpu, pages: pages) }
    }

    public func close(cpu: Int) { lock.withLock { if cpu >= 0 && cpu < buffers.count { buffers[cpu] = nil } } }

    /// Takes every sample written on `cpu` so far, oldest first.
    public func drain(cpu: Int) -> [[UInt8]] {
        lock.withLock {
            guard cpu >= 0, cpu < buffers.count, var buffer = buffers[cpu] else { return [] }
            let samples = buffer.samples
            buffer.samples = []
            buffer.used = 0
            buffers[cpu] = buffer
            return samples
        }
    }

    /// Takes every sample of every CPU, by CPU then oldest first.
    public func consume() -> [(cpu: Int, sample: [UInt8])] {
        (0..<definition.maxEntries).flatMap { cpu in drain(cpu: cpu).map { (cpu, $0) } }
    }

    /// Samples lost on `cpu` because its buffer was full.
    public func lostSamples(cpu: Int) -> Int { lock.withLock { cpu >= 0 && cpu < buffers.count ? buffers[cpu]?.lost ?? 0 : 0 } }

    // MARK: Producer

    /// `bpf_perf_event_output`'s delivery: `flags`' index (or the current CPU),
    /// `sample` the bytes. Errors are the kernel's.
    public func output(index: UInt64, sample: [UInt8]) throws(MapError) -> Void {
        let cpu = index == Self.currentCPU ? CPUSlots.current : Int(index)
        guard cpu < definition.maxEntries else { throw .full }
        try lock.withLock { () throws(MapError) in
            // In the kernel's order: an empty slot is -ENOENT before another CPU's is -EOPNOTSUPP.
            guard var buffer = buffers[cpu] else { throw .noSuchKey }
            guard cpu == CPUSlots.current else { throw .unsupported("perf event of CPU \(cpu) written on CPU \(CPUSlots.current)") }
            let size = Self.footprint(sample.count)
            guard buffer.used + size <= buffer.capacity else {
                buffer.lost += 1
                buffers[cpu] = buffer
                throw .noBufferSpace
            }
            buffer.used += size
            buffer.samples.append(sample)
            buffers[cpu] = buffer
        }
    }

    // MARK: BPFMap

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 { 0 }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        throw .unsupported("programs cannot update perf_event_array '\(definition.name)'")
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        throw .unsupported("programs cannot delete from perf_event_array '\(definition.name)'")
    }

    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] {
        throw .unsupported("perf_event_array slots hold perf events, which cannot be read back")
    }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        try checkKey(key)
        try checkValue(value)
        let cpu = Int(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        guard cpu < definition.maxEntries else { throw .full }
        if flags == .noExist { throw .keyExists }
        try open(cpu: cpu)
    }

    public func delete(key: [UInt8]) throws(MapError) {
        try checkKey(key)
        let cpu = Int(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        guard cpu < definition.maxEntries else { throw .invalidArgument("index \(cpu) is past max_entries \(definition.maxEntries)") }
        try lock.withLock { () throws(MapError) in
            guard buffers[cpu] != nil else { throw .noSuchKey }
            buffers[cpu] = nil
        }
    }

    public func keys() -> [[UInt8]] {
        lock.withLock {
            buffers.indices.filter { buffers[$0] != nil }.map { withUnsafeBytes(of: UInt32($0).littleEndian) { Array($0) } }
        }
    }
}
