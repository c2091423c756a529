import BPFRuntime

/// `BPF_MAP_TYPE_RINGBUF`: a multi-producer, single-consumer byte ring for
/// variable-length records, with the kernel's capacity rules.
///
/// Positions grow forever and are taken modulo `size`; a record takes
/// `round_up(8 + length, 8)` bytes (the kernel's 8-byte header, kept for the
/// accounting) and a reserve fails when the producer would get `size - 1`
/// bytes ahead of the consumer or of the oldest uncommitted record, as in the
/// kernel. The kernel maps the data pages twice so a record that wraps is
/// contiguous; BPFKit's data slab is `2 * size` bytes instead, and a record
/// that wraps simply runs on past `size` (its bytes at the start of the ring
/// are reserved for it but left unused). Record states (busy, committed,
/// discarded) are kept on the host side, not in headers inside guest memory,
/// so a program that scribbles over the ring cannot confuse the consumer.
///
/// A reservation made during a run belongs to that run (`RunLifetime`): when
/// the run ends, every record it reserved and neither submitted nor
/// discarded is discarded, as the kernel's verifier guarantees by refusing
/// programs that can exit holding one. Otherwise one forgotten record would
/// stop the consumer at it for good and, once the ring wrapped, every reserve.
public final class RingBuffer: BPFMap, RunEndHook, @unchecked Sendable {
    public let definition: MapDefinition
    public let descriptor: Slab
    /// Ring size in bytes (max_entries).
    public let size: Int
    private let data: Slab
    private let lock = Lock()

    private enum State { case busy, committed, discarded }
    /// `owner`: the run that reserved it (`RunLifetime.currentRun`), 0 for the host.
    private struct Record { var position: Int; var length: Int; var state: State; var owner: UInt64 = 0 }
    /// Records not yet consumed, oldest first.
    private var records: [Record] = []
    private var recordHead = 0
    /// Index of the oldest record still busy (or `records.count` when none is).
    private var busyHead = 0
    private var producer = 0
    private var consumer = 0

    /// `BPF_RB_NO_WAKEUP` and `BPF_RB_FORCE_WAKEUP`, the only flags of submit/discard/output.
    public static let wakeupFlags: UInt64 = 1 | 2
    /// The kernel's header size, counted in each record's footprint.
    public static let headerSize = 8

    init(validated definition: MapDefinition) {
        self.definition = definition
        descriptor = MapDescriptor.make(definition)
        size = definition.maxEntries
        data = Slab(count: 1, stride: 2 * size, usableSize: 2 * size, writable: true)
    }

    public var valueRegions: [SlabRegion] { [data.region] }

    private func footprint(_ length: Int) -> Int { (length + Self.headerSize + 7) & ~7 }

    /// Reserves `length` bytes; returns the record's address, or nil when it
    /// does not fit. Inside a run the record belongs to the run, which
    /// discards it when it ends unless it was submitted or discarded.
    public func reserve(_ length: Int) -> UInt64? {
        let owner = RunLifetime.currentRun
        let address = reserve(length, owner: owner)
        if address != nil, owner != 0 { RunLifetime.atRunEnd(self) }
        return address
    }

    private func reserve(_ length: Int, owner: UInt64) -> UInt64? {
        guard length >= 0, length <= size, footprint(length) <= size else { return nil }
        return lock.withLock { () -> UInt64? in
            let pending = busyHead < records.count ? records[busyHead].position : producer
            let next = producer + footprint(length)
            guard next - consumer <= size - 1, next - pending <= size - 1 else { return nil }
            let record = Record(position: producer, length: length, state: .busy, owner: owner)
            records.append(record)
            producer = next
            return data.start + UInt64(record.position % size + Self.headerSize)
        }
    }

    /// Run `run` ended: discards the records it reserved and left busy.
    public func runEnded(_ run: UInt64) {
        lock.withLock {
            for i in busyHead..<records.count where records[i].owner == run && records[i].state == .busy {
                records[i].state = .discarded
            }
            while busyHead < records.count, records[busyHead].state != .busy { busyHead += 1 }
        }
    }

    /// Records reserved and not yet submitted or discarded (tests, dumps).
    public var outstandingReservations: Int {
        lock.withLock { records[busyHead...].filter { $0.state == .busy }.count }
    }

    /// Commits (`discard == false`) or discards a reserved record by its address.
    /// Returns false if `address` is not a busy record of this ring.
    @discardableResult
    public func finish(_ address: UInt64, discard: Bool) -> Bool {
        lock.withLock {
            for i in stride(from: records.count - 1, through: recordHead, by: -1)
            where data.start + UInt64(records[i].position % size + Self.headerSize) == address && records[i].state == .busy {
                records[i].state = discard ? .discarded : .committed
                while busyHead < records.count, records[busyHead].state != .busy { busyHead += 1 }
                return true
            }
            return false
        }
    }

    /// Copies `bytes` into a new committed record (`bpf_ringbuf_output`).
    public func output(_ bytes: UnsafeRawBufferPointer) throws(MapError) {
        guard let address = reserve(bytes.count, owner: 0) else { throw .noSpace }
        data.copyIn(bytes, atByte: Int(address - data.start))
        finish(address, discard: false)
    }

    /// Hands every committed record, oldest first, to `handler`, skipping discarded
    /// ones and stopping at the first record still being written; returns how many
    /// were handed over.
    @discardableResult
    public func drain(_ handler: ([UInt8]) throws -> Void) rethrows -> Int {
        var delivered = 0
        while let record = nextRecord() {
            try handler(record)
            delivered += 1
        }
        return delivered
    }

    /// Every committed record available now, oldest first.
    public func consume() -> [[UInt8]] {
        var out: [[UInt8]] = []
        drain { out.append($0) }
        return out
    }

    private func nextRecord() -> [UInt8]? {
        lock.withLock { () -> [UInt8]? in
            while recordHead < records.count {
                let record = records[recordHead]
                if record.state == .busy { return nil }
                recordHead += 1
                consumer = record.position + footprint(record.length)
                if recordHead > 64, recordHead * 2 > records.count {
                    records.removeFirst(recordHead)
                    busyHead -= recordHead
                    recordHead = 0
                }
                if record.state == .committed {
                    return data.copyOut(atByte: record.position % size + Self.headerSize, count: record.length)
                }
            }
            return nil
        }
    }

    /// Bytes between consumer and producer (`BPF_RB_AVAIL_DATA`).
    public var availableData: Int { lock.withLock { producer - consumer } }

    // MARK: BPFMap (ring buffers have no keys)

    public func programLookup(key: UnsafeRawBufferPointer) -> UInt64 { 0 }

    public func programUpdate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt64) throws(MapError) {
        throw .unsupported("update of a ring buffer")
    }

    public func programDelete(key: UnsafeRawBufferPointer) throws(MapError) {
        throw .unsupported("delete from a ring buffer")
    }

    public func lookup(key: [UInt8]) throws(MapError) -> [UInt8] { throw .unsupported("lookup in a ring buffer") }

    public func update(key: [UInt8], value: [UInt8], flags: UpdateFlags) throws(MapError) {
        throw .unsupported("update of a ring buffer")
    }

    public func delete(key: [UInt8]) throws(MapError) { throw .unsupported("delete from a ring buffer") }

    public func keys() -> [[UInt8]] { [] }
}
