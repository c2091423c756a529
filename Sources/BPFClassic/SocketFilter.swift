import BPFHelpers
import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// The context a translated classic filter runs on: what the kernel reads
/// from the socket buffer, laid out by BPFKit (read-only, 8-byte aligned).
///
///     offset  field
///      0      data            u64, first byte of the packet
///      8      data_end        u64, one past the last captured byte
///     16      len             u32, the packet's length on the wire (ld #pktlen)
///     20      protocol        u32, EtherType in host order (SKF_AD_PROTOCOL)
///     24      pkttype         u32, PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4
///     28      ifindex         u32
///     32      vlan_tci        u32 (SKF_AD_VLAN_TAG)
///     36      vlan_present    u32 (SKF_AD_VLAN_TAG_PRESENT)
///     40      vlan_tpid       u32 (SKF_AD_VLAN_TPID)
public enum SocketFilterContext {
    public static let data = 0
    public static let dataEnd = 8
    public static let length = 16
    public static let protocolNumber = 20
    public static let packetType = 24
    public static let interfaceIndex = 28
    public static let vlanTag = 32
    public static let vlanTagPresent = 36
    public static let vlanProtocol = 40
    public static let size = 48
}

/// What the kernel would know of a packet besides its bytes.
public struct PacketMetadata: Sendable, Hashable {
    /// The packet's length on the wire (`ld #pktlen`; the record's `len` in a capture).
    public var wireLength: UInt32
    public var protocolNumber: UInt16 = 0
    public var packetType: UInt32 = 0
    public var interfaceIndex: UInt32 = 0
    /// The tag the receiving device removed (out of band); pcap files keep tags in the packet, so none.
    public var vlanTag: UInt16? = nil
    public var vlanProtocol: UInt16 = 0

    public init(wireLength: UInt32, protocolNumber: UInt16 = 0, packetType: UInt32 = 0, interfaceIndex: UInt32 = 0,
                vlanTag: UInt16? = nil, vlanProtocol: UInt16 = 0) {
        self.wireLength = wireLength
        self.protocolNumber = protocolNumber
        self.packetType = packetType
        self.interfaceIndex = interfaceIndex
        self.vlanTag = vlanTag
        self.vlanProtocol = vlanProtocol
    }

    /// What the kernel's `eth_type_trans` derives from an Ethernet frame:
    /// the protocol is the EtherType (`ETH_P_802_3` or `ETH_P_802_2` for a
    /// length field), the packet type broadcast or multicast from the
    /// destination address, otherwise `PACKET_HOST`.
    public static func ethernet(_ packet: [UInt8], wireLength: UInt32, interfaceIndex: UInt32 = 1) -> PacketMetadata {
        var metadata = PacketMetadata(wireLength: wireLength, interfaceIndex: interfaceIndex)
        guard packet.count >= 14 else { return metadata }
        if packet[0..<6].allSatisfy({ $0 == 0xff }) {
            metadata.packetType = 1
        } else if packet[0] & 1 != 0 {
            metadata.packetType = 2
        }
        let type = UInt16(packet[12]) << 8 | UInt16(packet[13])
        if type >= 0x600 {
            metadata.protocolNumber = type
        } else {
            metadata.protocolNumber = packet.count >= 16 && packet[14] == 0xff && packet[15] == 0xff ? 0x0001 : 0x0004
        }
        return metadata
    }
}

/// The program type of translated classic filters (the kernel's socket
/// filter): r1 points to `SocketFilterContext`; the helpers are
/// `bpf_get_prandom_u32` and `bpf_get_smp_processor_id`.
public struct SocketFilterProgramType: ProgramType {
    public init() {}
    public var name: String { "socket_filter" }

    /// Translated programs read `SocketFilterContext` at its own offsets; nothing to rewrite.
    public func rewriteContextAccesses(in program: Program) throws(ContextAccessError) -> Program { program }

    public func allows(_ helper: KernelHelper) -> Bool { helper == .getPrandomU32 || helper == .getSmpProcessorID }

    public var verifierContext: ContextDescription {
        .packetContext(size: SocketFilterContext.size,
                       fields: [SocketFilterContext.data: .packetStart, SocketFilterContext.dataEnd: .packetEnd])
    }

    /// A run over `input` as an Ethernet frame captured whole.
    public func makeRun(input: [UInt8], maps: MapRegionTable, byteOrder: ByteOrder) throws(ProgramRunError) -> any ProgramRun {
        // The context's fields are laid out in the host's order.
        guard byteOrder == .host else {
            throw .badContext("socket filters run on engines of the host's byte order only")
        }
        let run = SocketFilterRun(capacity: input.count)
        run.load(input, metadata: .ethernet(input, wireLength: UInt32(input.count)))
        return run
    }
}

/// The memory of filter runs: a packet buffer and a context, reused packet
/// after packet (load, then run `input`). Not for concurrent runs.
public final class SocketFilterRun: ProgramRun, @unchecked Sendable {
    public let capacity: Int
    let buffer: GuestMemory
    let context: GuestMemory
    private var packetCount = 0
    public let input: RunInput

    public init(capacity: Int) {
        self.capacity = capacity
        buffer = GuestMemory(count: max(capacity, 1))
        context = GuestMemory(count: SocketFilterContext.size)
        context.store(buffer.address, at: SocketFilterContext.data)
        context.store(buffer.address, at: SocketFilterContext.dataEnd)
        let context = self.context
        // The packet's ends are live words of the context: engines check them
        // inline, and the slow path admits exactly the same bytes.
        let resolver: @Sendable (UInt64, Int, Bool) -> Bool = { address, size, write in
            let start = context.load(UInt64.self, at: SocketFilterContext.data)
            let end = context.load(UInt64.self, at: SocketFilterContext.dataEnd)
            return !write && address >= start && address <= end && UInt64(size) <= end - address
        }
        let extents: @Sendable (UInt64, UInt64) -> [Range<UInt64>] = { _, _ in
            let start = context.load(UInt64.self, at: SocketFilterContext.data)
            let end = context.load(UInt64.self, at: SocketFilterContext.dataEnd)
            return start < end ? [start..<end] : []
        }
        let packet = DynamicRegion(startWord: context.address + UInt64(SocketFilterContext.data),
                                   endWord: context.address + UInt64(SocketFilterContext.dataEnd), writable: false)
        var input = RunInput(r1: context.address, r2: 0,
                             regions: MemoryRegions([context.region(.context, writable: false)], resolver: resolver, extents: extents),
                             dynamicRegion: packet)
        input.pointerWords = [SocketFilterContext.data, SocketFilterContext.dataEnd].map { context.address + UInt64($0) }
        self.input = input
    }

    /// Puts the next packet (at most `capacity` bytes) and what is known of it in place.
    public func load(_ packet: [UInt8], metadata: PacketMetadata) {
        precondition(packet.count <= capacity, "packet larger than the run's buffer")
        buffer.write(packet, at: 0)
        packetCount = packet.count
        context.store(buffer.address + UInt64(packet.count), at: SocketFilterContext.dataEnd)
        context.store(metadata.wireLength, at: SocketFilterContext.length)
        context.store(UInt32(metadata.protocolNumber), at: SocketFilterContext.protocolNumber)
        context.store(metadata.packetType, at: SocketFilterContext.packetType)
        context.store(metadata.interfaceIndex, at: SocketFilterContext.interfaceIndex)
        context.store(UInt32(metadata.vlanTag ?? 0), at: SocketFilterContext.vlanTag)
        context.store(UInt32(metadata.vlanTag == nil ? 0 : 1), at: SocketFilterContext.vlanTagPresent)
        context.store(UInt32(metadata.vlanProtocol), at: SocketFilterContext.vlanProtocol)
    }

    public func output() -> [UInt8] { buffer.read(at: 0, count: packetCount) }
}
