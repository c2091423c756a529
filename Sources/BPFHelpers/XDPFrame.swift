import BPFISA
import BPFMaps
import BPFRuntime

/// One packet buffer and its context, laid out as the kernel's
/// `BPF_PROG_TEST_RUN` lays out an XDP frame: a 4096-byte page, 256 bytes of
/// headroom (`XDP_PACKET_HEADROOM`) before the packet, and the last 320 bytes
/// reserved (`SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`) so that
/// `bpf_xdp_adjust_tail` can grow the packet up to `hardEnd`. The first 40
/// bytes of headroom stand for `struct xdp_frame` and are off limits to
/// `bpf_xdp_adjust_head`, as in the kernel.
///
/// Programs see `XDPContext` (read-only) and may touch only the bytes between
/// `data_meta` and `data_end`, which the engines' resolver checks against the
/// context on every access, so an access past the packet fails at run time
/// even after the adjust helpers moved its ends.
public final class XDPFrame: Sendable {
    public static let frameSize = 4096
    public static let headroom = 256
    public static let tailroomReserve = 320
    public static let frameHeaderSize = 40
    public static let ethernetHeaderSize = 14
    /// Largest packet a frame takes (the kernel's `max_data_sz`).
    public static let maxPacketSize = frameSize - headroom - tailroomReserve

    let buffer: GuestMemory
    let context: GuestMemory
    /// The order of the context's words: the engine's (big-endian for a
    /// `bpfeb` program), so that its loads read the pointers it would read
    /// on a machine of that order. The packet's bytes have no order of their own.
    let byteOrder: ByteOrder
    /// Where `bpf_redirect` / `bpf_redirect_map` sent the packet during the run.
    let redirect = RedirectRecord()

    init(packet: [UInt8], ingressInterface: UInt32, receiveQueue: UInt32, byteOrder: ByteOrder = .host) {
        buffer = GuestMemory(count: Self.frameSize)
        buffer.write(packet, at: Self.headroom)
        context = GuestMemory(count: XDPContext.size)
        self.byteOrder = byteOrder
        let data = buffer.address + UInt64(Self.headroom)
        setContext(data, at: XDPContext.data)
        setContext(data + UInt64(packet.count), at: XDPContext.dataEnd)
        setContext(data, at: XDPContext.dataMeta)
        setContext(buffer.address, at: XDPContext.hardStart)
        setContext(hardEnd, at: XDPContext.hardEnd)
        setContext(ingressInterface, at: XDPContext.ingressInterface)
        setContext(receiveQueue, at: XDPContext.receiveQueue)
        XDPFrames.register(self)
    }

    deinit { XDPFrames.unregister(context.address) }

    /// Writes a context word in the frame's byte order.
    private func setContext<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        context.store(byteOrder == .host ? value : value.byteSwapped, at: offset)
    }

    /// Reads a context word in the frame's byte order.
    private func contextWord(at offset: Int) -> UInt64 {
        let raw = context.load(UInt64.self, at: offset)
        return byteOrder == .host ? raw : raw.byteSwapped
    }

    var hardStart: UInt64 { buffer.address }
    var hardEnd: UInt64 { buffer.address + UInt64(Self.frameSize - Self.tailroomReserve) }
    var data: UInt64 { contextWord(at: XDPContext.data) }
    var dataEnd: UInt64 { contextWord(at: XDPContext.dataEnd) }
    var dataMeta: UInt64 { contextWord(at: XDPContext.dataMeta) }

    /// Whether `[address, address + size)` lies in the packet (metadata included).
    func permits(_ address: UInt64, size: Int) -> Bool {
        let low = dataMeta, high = dataEnd
        return address >= low && address <= high && UInt64(size) <= high - address
    }

    /// What `permits` admits, as a byte range (`MemoryRegions.extents`).
    var extent: Range<UInt64> { dataMeta..<max(dataMeta, dataEnd) }

    /// What `BPF_PROG_TEST_RUN` returns as `data_out`: the bytes from
    /// `data_meta` to `data_end` (the packet, preceded by any metadata the
    /// program left with `bpf_xdp_adjust_meta`).
    public var packet: [UInt8] {
        buffer.read(at: Int(dataMeta - hardStart), count: Int(dataEnd - dataMeta))
    }

    /// `bpf_xdp_adjust_head`: moves `data` by `delta`; the packet keeps at least an
    /// Ethernet header and `data` stays past the reserved frame header.
    func adjustHead(_ delta: Int32) -> Int64 {
        let metaLength = data - dataMeta
        let newData = Int64(bitPattern: data) + Int64(delta)
        let lowest = Int64(bitPattern: hardStart + UInt64(Self.frameHeaderSize) + metaLength)
        guard newData >= lowest, newData <= Int64(bitPattern: dataEnd) - Int64(Self.ethernetHeaderSize) else {
            return -Int64(Errno.EINVAL)
        }
        if metaLength > 0 {
            let meta = buffer.read(at: Int(dataMeta - hardStart), count: Int(metaLength))
            buffer.write(meta, at: Int(Int64(bitPattern: dataMeta - hardStart) + Int64(delta)))
        }
        setContext(UInt64(bitPattern: Int64(bitPattern: dataMeta) + Int64(delta)), at: XDPContext.dataMeta)
        setContext(UInt64(bitPattern: newData), at: XDPContext.data)
        return 0
    }

    /// `bpf_xdp_adjust_meta`: moves `data_meta` by `delta`; the metadata stays
    /// between the frame header and `data`, in whole words, and no longer than
    /// `skb_shared_info.meta_len` (a `u8`) can record.
    func adjustMeta(_ delta: Int32) -> Int64 {
        let meta = Int64(bitPattern: dataMeta) + Int64(delta)
        guard meta >= Int64(bitPattern: hardStart) + Int64(Self.frameHeaderSize), meta <= Int64(bitPattern: data) else {
            return -Int64(Errno.EINVAL)
        }
        let length = Int64(bitPattern: data) - meta
        guard length & 3 == 0, length <= 255 else { return -Int64(Errno.EACCES) }
        setContext(UInt64(bitPattern: meta), at: XDPContext.dataMeta)
        return 0
    }

    /// `bpf_xdp_adjust_tail`: moves `data_end` by `delta` within the frame,
    /// zeroing bytes the packet grows into.
    func adjustTail(_ delta: Int32) -> Int64 {
        let newEnd = Int64(bitPattern: dataEnd) + Int64(delta)
        guard newEnd <= Int64(bitPattern: hardEnd), newEnd >= Int64(bitPattern: data) + Int64(Self.ethernetHeaderSize) else {
            return -Int64(Errno.EINVAL)
        }
        if delta > 0 { buffer.write(Array(repeating: 0, count: Int(delta)), at: Int(dataEnd - hardStart)) }
        setContext(UInt64(bitPattern: newEnd), at: XDPContext.dataEnd)
        return 0
    }

    /// `bpf_xdp_load_bytes` / `bpf_xdp_store_bytes`: copies within the packet, EINVAL outside it.
    func packetRange(offset: UInt32, length: Int) -> Int? {
        let available = Int(dataEnd - data)
        guard length >= 0, Int(offset) <= available, length <= available - Int(offset) else { return nil }
        return Int(data - hardStart) + Int(offset)
    }

    func read(at offset: Int, count: Int) -> [UInt8] { buffer.read(at: offset, count: count) }
    func write(_ bytes: [UInt8], at offset: Int) { buffer.write(bytes, at: offset) }
}

/// BPFKit's XDP context: what programs' `struct xdp_md` loads are rewritten to.
///
/// The kernel's `xdp_md` holds 32-bit fields that the verifier turns into
/// loads of `struct xdp_buff`'s 64-bit pointers; this struct plays
/// `xdp_buff`'s part. Programs may read it but never write it: only the
/// adjust helpers change it, through the frame.
public enum XDPContext {
    public static let data = 0
    public static let dataEnd = 8
    public static let dataMeta = 16
    public static let hardStart = 24
    public static let hardEnd = 32
    public static let ingressInterface = 40
    public static let receiveQueue = 44
    public static let size = 48
}

/// Live frames by context address, so that helpers, which receive only the
/// context pointer, can reach the frame behind it.
enum XDPFrames {
    private final class Box: @unchecked Sendable {
        weak var frame: XDPFrame?
        init(_ frame: XDPFrame) { self.frame = frame }
    }
    private final class Table: @unchecked Sendable { var frames: [UInt64: Box] = [:] }
    private static let lock = Lock()
    private static let table = Table()

    static func register(_ frame: XDPFrame) {
        lock.withLock { table.frames[frame.context.address] = Box(frame) }
    }

    static func unregister(_ address: UInt64) {
        lock.withLock { _ = table.frames.removeValue(forKey: address) }
    }

    static func frame(at context: UInt64) -> XDPFrame? {
        lock.withLock { table.frames[context]?.frame }
    }
}
