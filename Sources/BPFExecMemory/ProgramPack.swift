import BPFSync

// Write-xor-execute in BPFKit's executable memory: why it is safe.
//
// Each chunk (and each dedicated mapping) is a sealed memfd. Its only lasting
// mapping is the executable view, PROT_READ|PROT_EXEC, created after the file
// was completely trap-filled. Every write (copy, patch, trap fill on free)
// maps just the pages it touches PROT_READ|PROT_WRITE at a fresh,
// kernel-chosen address, stores, and unmaps them before returning, under the
// pack's lock. So no address is ever writable and executable, no mprotect
// ever flips a page between the two, and a writable alias exists only for
// the microseconds of one write; the platform layer also refuses any W+X
// request outright. This is the kernel's bpf_prog_pack + text_poke_copy, with
// one difference: the kernel's temporary writable mapping lives in a private
// mm, ours is visible to every thread of the process while it exists. That
// window is the residual risk; a permanent second RW view (as some JITs keep)
// would leave it open forever, and mprotect flipping would make the code
// itself writable. Executable views are flushed from the instruction cache
// after each write where the host needs it (arm64), and live patches are
// single aligned 8-byte atomic stores (see `ProgramPack.patch`).

/// Executable memory for JITed programs: many images packed into shared
/// 2 MiB chunks (the kernel's bpf_prog_pack), written only through a
/// transient writable view.
///
/// A backend's whole contract: `allocate` gives the final executable address,
/// the backend assembles into an ordinary `[UInt8]` against that address,
/// `copy` moves the bytes into place, the program runs at `slot.address`, and
/// `free` returns the room. Units, chunks, views and huge pages stay in here.
public final class ProgramPack: Sendable {
    /// Allocation granularity inside a chunk (the kernel's BPF_PROG_CHUNK_SIZE).
    public static let unitSize = 64
    /// Default chunk size: one PMD-level huge page.
    public static let defaultChunkSize = 2 << 20

    /// How a pack is set up; the defaults are what production wants.
    public struct Configuration: Sendable {
        /// Size of a shared chunk; a multiple of the page size.
        public var chunkSize: Int
        public var hugePages: HugePagePolicy
        public var placement: ImagePlacement
        /// Name of the pack's memory files, shown in /proc/PID/maps as
        /// "/memfd:NAME (deleted)" so that each pack's memory is recognisable.
        public var name: String
        /// How many emptied chunks stay mapped for the next allocation
        /// (trap-filled and read+execute like any free room) instead of
        /// going back to the system at once. One spare means a process that
        /// loads and frees one program at a time maps, trap-fills and
        /// inspects no new chunk per program; 0 unmaps every chunk the moment
        /// it empties. Spares are unmapped by `releaseSpareChunks()` and when
        /// the pack goes away.
        public var spareChunks: Int

        public init(
            chunkSize: Int = ProgramPack.defaultChunkSize,
            hugePages: HugePagePolicy = .preferred,
            placement: ImagePlacement = .randomized,
            name: String = "bpfkit-jit",
            spareChunks: Int = 1
        ) {
            self.chunkSize = chunkSize
            self.hugePages = hugePages
            self.placement = placement
            self.name = name
            self.spareChunks = spareChunks
        }
    }

    /// Where an image starts within the slack of its units.
    public enum ImagePlacement: Hashable, Sendable {
        /// At a random aligned offset, so image addresses are harder to guess
        /// (the kernel's bpf_jit_binary_pack_alloc does the same).
        case randomized
        /// At the start of its units; deterministic, for tests and debugging.
        case lowest
    }

    public let trap: TrapPattern
    public let configuration: Configuration
    let platform: any ExecMemoryPlatform
    let state: Lock<PackState>

    /// Creates an empty pack; no memory is mapped until the first allocation.
    public init(
        trap: TrapPattern,
        configuration: Configuration = Configuration(),
        platform: any ExecMemoryPlatform = SystemPlatform()
    ) {
        precondition(
            configuration.chunkSize > 0 && configuration.chunkSize % platform.pageSize == 0,
            "chunk size must be a positive multiple of the page size")
        precondition(configuration.spareChunks >= 0, "spare chunk count must not be negative")
        self.trap = trap
        self.configuration = configuration
        self.platform = platform
        self.state = Lock(PackState())
    }

    deinit {
        state.withLock { state in
            state.releaseAll()
        }
    }

    /// Reserves room for an image of `size` bytes whose first byte is aligned
    /// to `alignment` (a power of two, from the trap width up to 64). The
    /// returned address is final; the room reads as traps until `copy`.
    public func allocate(size: Int, alignment: Int = 16) throws(ExecMemoryError) -> PackSlot {
        guard size > 0 else {
            throw .invalidSize(size)
        }
        guard alignment > 0, alignment & (alignment - 1) == 0,
            alignment >= trap.instructionWidth, alignment <= Self.unitSize
        else {
            throw .invalidAlignment(alignment)
        }
        let units = (size + Self.unitSize - 1) / Self.unitSize
        if units * Self.unitSize > configuration.chunkSize {
            return try allocateDedicated(size: size, alignment: alignment)
        }
        let configuration = self.configuration
        let (trap, platform) = (self.trap, self.platform)
        return try state.withLock { (state) throws(ExecMemoryError) -> PackSlot in
            let (chunk, firstUnit) = try state.findRoom(units: units) { () throws(ExecMemoryError) in
                let region = try CodeRegion.make(
                    name: configuration.name, length: configuration.chunkSize,
                    policy: configuration.hugePages, trap: trap, platform: platform)
                return SharedChunk(region: region, unitCount: configuration.chunkSize / Self.unitSize)
            }
            chunk.units.markUsed(firstUnit..<(firstUnit + units))
            chunk.images += 1
            let unitsStart = firstUnit * Self.unitSize
            let imageOffset =
                unitsStart
                + Self.startOffset(
                    slack: units * Self.unitSize - size, alignment: alignment, placement: configuration.placement,
                    random: &state.random)
            return state.record(
                Allocation(
                    place: .chunk(chunk, units: firstUnit..<(firstUnit + units)),
                    imageRange: imageOffset..<(imageOffset + size)),
                address: chunk.region.address.advanced(by: imageOffset))
        }
    }

    /// An image larger than a chunk gets a mapping of its own, rounded up to
    /// pages (to huge pages when that is whole 2 MiB pages anyway).
    private func allocateDedicated(size: Int, alignment: Int) throws(ExecMemoryError) -> PackSlot {
        let page = platform.pageSize
        let length = (size + page - 1) / page * page
        let (configuration, trap, platform) = (self.configuration, self.trap, self.platform)
        return try state.withLock { (state) throws(ExecMemoryError) -> PackSlot in
            let region = try CodeRegion.make(
                name: configuration.name, length: length, policy: configuration.hugePages, trap: trap,
                platform: platform)
            let imageOffset = Self.startOffset(
                slack: length - size, alignment: alignment, placement: configuration.placement,
                random: &state.random)
            return state.record(
                Allocation(place: .dedicated(region), imageRange: imageOffset..<(imageOffset + size)),
                address: region.address.advanced(by: imageOffset))
        }
    }

    /// A start offset within `slack` bytes, a multiple of `alignment`.
    private static func startOffset(
        slack: Int, alignment: Int, placement: ImagePlacement, random: inout BatchedRandom
    ) -> Int {
        switch placement {
        case .lowest:
            return 0
        case .randomized:
            return Int.random(in: 0...(slack / alignment), using: &random) * alignment
        }
    }

    /// Copies a finished image into its slot (written into the chunk's
    /// memory file, or through a transient writable view where the file
    /// cannot be written), fills the rest of the slot with traps, and makes
    /// the code visible to instruction fetch. `bytes` may be shorter than the slot.
    public func copy(_ bytes: [UInt8], into slot: PackSlot) throws(ExecMemoryError) {
        guard bytes.count <= slot.size else {
            throw .imageTooLarge(bytes: bytes.count, slotSize: slot.size)
        }
        try state.withLock { (state) throws(ExecMemoryError) in
            let allocation = try state.allocation(of: slot)
            let range = allocation.imageRange
            try allocation.region.write(bytes, at: range.lowerBound, within: range)
        }
    }

    /// Replaces `bytes` at byte `offset` of a live image (a tail-call site)
    /// while other threads may be running it.
    ///
    /// The bytes must lie within one naturally aligned 8-byte word: the word
    /// is read, merged and written back by a single 8-byte atomic store, so a
    /// concurrent executor fetches either the old or the new instruction,
    /// never a torn one. Otherwise this throws `.patchNotAtomic`: the JIT
    /// must align its patch sites. The store runs under the pack's lock, so
    /// patches of neighbouring bytes never lose each other's updates.
    ///
    /// x86-64: aligned 8-byte stores are single-copy atomic (SDM vol. 3A,
    /// "Guaranteed Atomic Operations"); like HotSpot's call-site patching,
    /// this relies on instruction fetch seeing that store whole rather than
    /// on the SDM's serialize-the-executor cross-modifying-code protocol.
    /// arm64: only some instructions may be replaced under a running thread
    /// (B, BL, NOP, BRK, ... Arm ARM B2.2.5), so a patch site should be one
    /// such 4-byte instruction; the range is flushed from the instruction
    /// cache after the store.
    public func patch(_ slot: PackSlot, at offset: Int, bytes: [UInt8]) throws(ExecMemoryError) {
        guard offset >= 0, offset + bytes.count <= slot.size else {
            throw .outOfBounds(offset: offset, count: bytes.count, limit: slot.size)
        }
        guard !bytes.isEmpty else {
            return
        }
        let first = slot.address.rawValue + UInt(offset)
        let last = first + UInt(bytes.count - 1)
        guard first & ~7 == last & ~7 else {
            throw .patchNotAtomic(offset: offset, count: bytes.count)
        }
        try state.withLock { (state) throws(ExecMemoryError) in
            let allocation = try state.allocation(of: slot)
            try allocation.region.storeAtomically(bytes, at: allocation.imageRange.lowerBound + offset)
        }
    }

    /// Returns an image's room to the pack: it is refilled with traps. A
    /// chunk left empty is kept as a spare while fewer than
    /// `configuration.spareChunks` are kept, and unmapped otherwise. The
    /// caller guarantees no thread still runs the image (the kernel waits an
    /// RCU grace period for the same). Freeing a slot that is not live is a
    /// programming error and traps.
    public func free(_ slot: PackSlot) {
        let spareLimit = configuration.spareChunks
        state.withLock { state in
            guard let allocation = state.live.removeValue(forKey: slot.serial) else {
                preconditionFailure("free of \(slot), which is not live in this pack (double free?)")
            }
            state.requestedBytes -= slot.size
            switch allocation.place {
            case .dedicated(let region):
                state.dedicated.removeValue(forKey: ObjectIdentifier(region))
                region.release()
            case .chunk(let chunk, let units):
                chunk.images -= 1
                let emptied = chunk.images == 0
                // A chunk holding room whose trap fill failed is never kept.
                if emptied && (chunk.unreclaimedUnits > 0 || state.spares.count >= spareLimit) {
                    // Nothing live is left: the whole chunk goes back to the
                    // system, unreclaimed units included; no trap fill needed.
                    state.release(chunk, unitSize: Self.unitSize)
                    return
                }
                let bytes = (units.lowerBound * Self.unitSize)..<(units.upperBound * Self.unitSize)
                do {
                    try chunk.region.fillWithTrap(bytes)
                    chunk.units.markFree(units)
                } catch {
                    if emptied {
                        state.release(chunk, unitSize: Self.unitSize)
                        return
                    }
                    // Without its trap fill the room must not be reused.
                    chunk.unreclaimedUnits += units.count
                    state.unreclaimedBytes += bytes.count
                }
                if emptied {
                    // Every unit is traps again (free room always is): the
                    // chunk waits, read+execute, for the next allocation
                    // that finds no room in the chunks in use.
                    state.chunks.removeAll { $0 === chunk }
                    state.spares.append(chunk)
                }
            }
        }
    }

    /// Unmaps the spare chunks (emptied chunks kept for reuse), returning
    /// their memory to the system; the pack maps new chunks as needed.
    public func releaseSpareChunks() {
        state.withLock { state in
            state.releaseSpares()
        }
    }

    /// Reads `count` bytes of executable memory at `address` (for dumps of
    /// JITed code, and tests). The range must lie in one chunk or dedicated
    /// mapping of this pack.
    public func bytes(at address: ExecutableAddress, count: Int) throws(ExecMemoryError) -> [UInt8] {
        try state.withLock { (state) throws(ExecMemoryError) -> [UInt8] in
            let regions = (state.chunks + state.spares).map(\.region) + Array(state.dedicated.values)
            for region in regions {
                if let offset = region.offset(of: address) {
                    guard count >= 0, offset + count <= region.length else {
                        throw .outOfBounds(offset: offset, count: count, limit: region.length)
                    }
                    return region.read(at: offset, count: count)
                }
            }
            throw .outOfBounds(offset: 0, count: count, limit: 0)
        }
    }

    /// A consistent snapshot of the pack's memory.
    public var statistics: PackStatistics {
        let configuration = self.configuration
        let trap = self.trap
        return state.withLock { state in
            PackStatistics(
                trap: trap, unitSize: Self.unitSize, chunkSize: configuration.chunkSize,
                chunks: state.chunks.map { chunk in
                    PackStatistics.Chunk(
                        address: chunk.region.address, size: chunk.region.length, images: chunk.images,
                        bytesInUse: chunk.units.usedCount * Self.unitSize,
                        freeBytes: chunk.units.freeCount * Self.unitSize,
                        largestFreeRun: chunk.units.largestFreeRun * Self.unitSize,
                        hugePages: chunk.region.hugePages)
                },
                dedicatedMappings: state.dedicated.values.sorted { $0.base < $1.base }.map { region in
                    PackStatistics.DedicatedMapping(
                        address: region.address, size: region.length, hugePages: region.hugePages)
                },
                requestedBytes: state.requestedBytes, unreclaimedBytes: state.unreclaimedBytes,
                spareChunks: state.spares.count, spareBytes: state.spares.reduce(0) { $0 + $1.region.length })
        }
    }
}
