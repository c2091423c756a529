/// A shared chunk: one region carved into 64-byte units.
final class SharedChunk {
    let region: CodeRegion
    var units: UnitBitmap
    /// Live images in the chunk.
    var images = 0
    /// Units of freed images whose trap fill could not be written; they stay
    /// marked used until the chunk itself goes away.
    var unreclaimedUnits = 0

    init(region: CodeRegion, unitCount: Int) {
        self.region = region
        self.units = UnitBitmap(unitCount: unitCount)
    }
}

/// What one live slot occupies.
struct Allocation {
    enum Place {
        case chunk(SharedChunk, units: Range<Int>)
        case dedicated(CodeRegion)
    }

    let place: Place
    /// Byte offsets of the image within its region.
    let imageRange: Range<Int>

    var region: CodeRegion {
        switch place {
        case .chunk(let chunk, _):
            return chunk.region
        case .dedicated(let region):
            return region
        }
    }
}

/// Everything the pack's lock protects.
struct PackState: ~Copyable {
    /// Chunks in creation order: first fit takes the oldest chunk with room,
    /// which keeps images dense and lets younger chunks empty out.
    var chunks: [SharedChunk] = []
    /// Emptied chunks kept mapped for reuse (all traps, no images), at most
    /// `Configuration.spareChunks`; taken before a new chunk is mapped.
    var spares: [SharedChunk] = []
    var dedicated: [ObjectIdentifier: CodeRegion] = [:]
    var live: [UInt64: Allocation] = [:]
    var nextSerial: UInt64 = 1
    var requestedBytes = 0
    var unreclaimedBytes = 0
    var random = BatchedRandom()

    /// The first chunk with `units` consecutive free units, and where; a
    /// spare chunk, or a new one from `makeChunk`, when none has room.
    mutating func findRoom(
        units: Int, makeChunk: () throws(ExecMemoryError) -> SharedChunk
    ) throws(ExecMemoryError) -> (SharedChunk, Int) {
        for chunk in chunks {
            if let first = chunk.units.firstFit(units) {
                return (chunk, first)
            }
        }
        let chunk: SharedChunk
        if let spare = spares.popLast() {
            chunk = spare
        } else {
            chunk = try makeChunk()
        }
        chunks.append(chunk)
        guard let first = chunk.units.firstFit(units) else {
            preconditionFailure("a new chunk has no room for \(units) units")
        }
        return (chunk, first)
    }

    /// Registers a new allocation and returns its slot.
    mutating func record(_ allocation: Allocation, address: ExecutableAddress) -> PackSlot {
        let serial = nextSerial
        nextSerial += 1
        live[serial] = allocation
        requestedBytes += allocation.imageRange.count
        if case .dedicated(let region) = allocation.place {
            dedicated[ObjectIdentifier(region)] = region
        }
        return PackSlot(address: address, size: allocation.imageRange.count, serial: serial)
    }

    /// The live allocation behind `slot`; a freed or foreign slot throws.
    func allocation(of slot: PackSlot) throws(ExecMemoryError) -> Allocation {
        guard let allocation = live[slot.serial],
            allocation.region.address.advanced(by: allocation.imageRange.lowerBound) == slot.address,
            allocation.imageRange.count == slot.size
        else {
            throw .unknownSlot
        }
        return allocation
    }

    /// Unmaps an emptied chunk (in use or spare) and forgets it.
    mutating func release(_ chunk: SharedChunk, unitSize: Int) {
        unreclaimedBytes -= chunk.unreclaimedUnits * unitSize
        chunks.removeAll { $0 === chunk }
        spares.removeAll { $0 === chunk }
        chunk.region.release()
    }

    /// Unmaps the spare chunks.
    mutating func releaseSpares() {
        for chunk in spares {
            chunk.region.release()
        }
        spares.removeAll()
    }

    /// Unmaps everything (the pack is going away).
    mutating func releaseAll() {
        releaseSpares()
        for chunk in chunks {
            chunk.region.release()
        }
        for region in dedicated.values {
            region.release()
        }
        chunks.removeAll()
        dedicated.removeAll()
        live.removeAll()
    }
}
