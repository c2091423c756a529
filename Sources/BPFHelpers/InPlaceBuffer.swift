import BPFMaps
import BPFRuntime

/// Memory the host owns and keeps from run to run, on which a program runs
/// in place: nothing is copied, allocated or built per run. It is the
/// zero-copy entry of a packet pipeline — receive into `withUnsafeMutableBytes`,
/// run, read the verdict and the bytes the program left, again.
///
/// - `mem`: `capacity` bytes; a run sees the first `length` of them
///   (r1 = their address, r2 = `length`), writable, and leaves its writes
///   in place. With `length` 0, r1 is 0 and the program has no input.
/// - `xdp`: one frame as `XDPProgramType` lays it out: `XDPFrame.frameSize`
///   (4,096) bytes, the packet at `XDPFrame.headroom` (256) bytes from the
///   frame's start, at most `XDPFrame.maxPacketSize` bytes of packet, and
///   the last `XDPFrame.tailroomReserve` bytes reserved (the kernel's
///   `skb_shared_info`). `bpf_xdp_adjust_head` may move the start down to
///   `XDPFrame.frameHeaderSize` bytes from the frame's start,
///   `bpf_xdp_adjust_tail` the end up to the reserve; a packet is at least an
///   Ethernet header (14 bytes). `withUnsafeMutableBytes` shows the packet
///   area (`XDPFrame.maxPacketSize` bytes from the headroom on). Before every
///   run the packet is `[headroom, headroom + length)` again: what an adjust
///   helper moved in the previous run is undone (the bytes are not).
///
/// One thread at a time: the buffer is the run's memory, so two runs on it
/// at once would share it. A pipeline keeps one per thread.
public final class InPlaceBuffer {
    enum Storage {
        case mem(GuestMemory)
        case xdp(XDPFrame)
    }

    let storage: Storage
    let maps: MapRegionTable
    let typeName: String
    /// Bytes the host may fill: the whole buffer for `mem`, the packet area for `xdp`.
    public let capacity: Int
    /// Bytes the next run receives (the packet's length for `xdp`).
    public private(set) var length: Int
    /// The registers and regions of a run; rebuilt only when `length` changes.
    public private(set) var input: RunInput
    /// For `xdp`: the context whose packet pointers `reset()` puts back,
    /// and what they are put back to.
    @usableFromInline let packetContext: GuestMemory?
    @usableFromInline let packetStart: UInt64
    @usableFromInline private(set) var packetEnd: UInt64

    /// A buffer for programs of `type` (`mem` or `xdp`), whose map values
    /// `maps` answers for. `capacity` is the most bytes a `mem` run may be
    /// given; `xdp` buffers always hold one frame.
    public init(type: any ProgramType, capacity: Int, maps: MapRegionTable) throws(ProgramRunError) {
        self.maps = maps
        typeName = type.name
        if let xdp = type as? XDPProgramType {
            let frame = XDPFrame(packet: [], ingressInterface: xdp.ingressInterface, receiveQueue: xdp.receiveQueue)
            storage = .xdp(frame)
            self.capacity = XDPFrame.maxPacketSize
            length = XDPFrame.ethernetHeaderSize
            input = Self.xdpInput(frame, maps: maps)
            packetContext = frame.context
            packetStart = frame.hardStart + UInt64(XDPFrame.headroom)
            packetEnd = packetStart + UInt64(length)
        } else if let mem = type as? MemProgramType {
            guard capacity >= 0 else { throw .inputTooSmall(type: type.name, size: capacity, minimum: 0) }
            guard capacity <= mem.maxInput else {
                throw .inputTooLarge(type: type.name, size: capacity, maximum: mem.maxInput)
            }
            let memory = GuestMemory(count: capacity)
            storage = .mem(memory)
            self.capacity = capacity
            length = 0
            input = Self.memInput(memory, length: 0, maps: maps)
            packetContext = nil
            packetStart = 0
            packetEnd = 0
        } else {
            throw .unsupportedType(type.name)
        }
        reset()
    }

    /// Sets how many bytes the next runs receive (`mem`: from the start;
    /// `xdp`: the packet from the headroom on). Rebuilds the run's regions.
    public func setLength(_ newLength: Int) throws(ProgramRunError) {
        switch storage {
        case .mem(let memory):
            guard newLength >= 0 else { throw .inputTooSmall(type: typeName, size: newLength, minimum: 0) }
            guard newLength <= capacity else { throw .inputTooLarge(type: typeName, size: newLength, maximum: capacity) }
            length = newLength
            input = Self.memInput(memory, length: newLength, maps: maps)
        case .xdp:
            guard newLength >= XDPFrame.ethernetHeaderSize else {
                throw .inputTooSmall(type: typeName, size: newLength, minimum: XDPFrame.ethernetHeaderSize)
            }
            guard newLength <= capacity else { throw .inputTooLarge(type: typeName, size: newLength, maximum: capacity) }
            length = newLength
            packetEnd = packetStart + UInt64(newLength)
        }
        reset()
    }

    /// Copies `bytes` in (the input for `mem`, the packet for `xdp`) and sets `length` to their count.
    public func write(_ bytes: [UInt8]) throws(ProgramRunError) {
        try setLength(bytes.count)
        switch storage {
        case .mem(let memory): memory.write(bytes, at: 0)
        case .xdp(let frame): frame.write(bytes, at: XDPFrame.headroom)
        }
    }

    /// The bytes the host fills, in place: `capacity` bytes (the packet area for `xdp`).
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch storage {
        case .mem(let memory):
            return try memory.withUnsafeMutableBytes(body)
        case .xdp(let frame):
            return try frame.buffer.withUnsafeMutableBytes(from: XDPFrame.headroom) { (bytes) throws(E) -> R in
                try body(UnsafeMutableRawBufferPointer(rebasing: bytes[..<capacity]))
            }
        }
    }

    /// r1 of a run.
    @inlinable public var r1: UInt64 { input.r1 }
    /// r2 of a run.
    @inlinable public var r2: UInt64 { input.r2 }

    /// Whether `reset()` does anything (`xdp`); a `mem` buffer needs nothing between runs.
    @inlinable public var resetsPerRun: Bool { packetContext != nil }

    /// Puts back what a run may have moved: for `xdp`, the packet pointers
    /// (`[headroom, headroom + length)`, no metadata). Engines call it
    /// before every run; it is three stores.
    @inlinable
    public func reset() {
        guard let context = packetContext else { return }
        context.store(packetStart, at: XDPContext.data)
        context.store(packetEnd, at: XDPContext.dataEnd)
        context.store(packetStart, at: XDPContext.dataMeta)
    }

    /// What a test run returns as `data_out`: the `length` bytes for `mem`;
    /// for `xdp` the packet (with any metadata) as the last run left it.
    public func output() -> [UInt8] {
        switch storage {
        case .mem(let memory): memory.read(at: 0, count: length)
        case .xdp(let frame): frame.packet
        }
    }

    static func memInput(_ memory: GuestMemory, length: Int, maps: MapRegionTable) -> RunInput {
        let regions = length == 0 ? [] : [MemoryRegion(start: memory.address, count: length, writable: true, kind: .input)]
        return RunInput(r1: length == 0 ? 0 : memory.address, r2: UInt64(length),
                        regions: MemoryRegions(regions, resolver: maps.regions.isEmpty ? nil : maps.resolver,
                                               extents: maps.extentsQuery))
    }

    static func xdpInput(_ frame: XDPFrame, maps: MapRegionTable) -> RunInput {
        XDPProgramType.XDPRun.input(frame, maps: maps)
    }
}
