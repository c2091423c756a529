import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// `xdp`: r1 points to the context, which programs declare as the kernel's
///
///     struct xdp_md {            // offset
///         __u32 data;            //  0  -> XDPContext.data      (64-bit load)
///         __u32 data_end;        //  4  -> XDPContext.dataEnd   (64-bit load)
///         __u32 data_meta;       //  8  -> XDPContext.dataMeta  (64-bit load)
///         __u32 ingress_ifindex; // 12  -> XDPContext.ingressInterface
///         __u32 rx_queue_index;  // 16  -> XDPContext.receiveQueue
///         __u32 egress_ifindex;  // 20  (devmap programs only: refused)
///     };
///
/// and whose 4-byte loads are rewritten at load time into loads of
/// `XDPContext`, which holds real 64-bit pointers. As in the kernel's
/// `xdp_is_valid_access`, only aligned 4-byte reads are allowed; writes,
/// other sizes, sign-extending loads and offsets outside the struct are
/// load-time errors. A run's defaults match `BPF_PROG_TEST_RUN` (loopback's
/// ifindex 1, queue 0).
public struct XDPProgramType: ProgramType {
    public var ingressInterface: UInt32
    public var receiveQueue: UInt32

    public init(ingressInterface: UInt32 = 1, receiveQueue: UInt32 = 0) {
        self.ingressInterface = ingressInterface
        self.receiveQueue = receiveQueue
    }

    public var name: String { "xdp" }

    public func allows(_ helper: KernelHelper) -> Bool { !helper.requiresSKB }

    /// After rewriting, programs read `XDPContext` (read-only) with 8-byte
    /// loads of its pointer fields.
    public var verifierContext: ContextDescription {
        .packetContext(size: XDPContext.size, fields: [XDPContext.data: .packetStart, XDPContext.dataEnd: .packetEnd,
                                                      XDPContext.dataMeta: .packetMeta])
    }

    /// Kernel `xdp_md` field offsets, names, and where BPFKit's context keeps them.
    static let fields: [Int16: (name: String, size: AccessSize, offset: Int)] = [
        0: ("data", .double, XDPContext.data),
        4: ("data_end", .double, XDPContext.dataEnd),
        8: ("data_meta", .double, XDPContext.dataMeta),
        12: ("ingress_ifindex", .word, XDPContext.ingressInterface),
        16: ("rx_queue_index", .word, XDPContext.receiveQueue),
    ]
    static let kernelContextSize: Int16 = 24

    public func rewriteContextAccesses(in program: Program) throws(ContextAccessError) -> Program {
        var rewritten = program
        for access in ContextTracker(program: program).contextAccesses() {
            let pc = access.pc
            switch access.tag {
            case .maybe:
                throw ContextAccessError(pc: pc, reason: "\(access.base) holds the context pointer on some paths and not on others; the access cannot be rewritten")
            case .modified:
                throw ContextAccessError(pc: pc, reason: "dereference of a modified context pointer (\(access.base)); read xdp_md fields at constant offsets from the context")
            case .none, .context:
                break
            }
            switch program.instructions[pc] {
            case .load(let size, let dst, let src, let offset):
                guard offset >= 0, offset < Self.kernelContextSize else {
                    throw ContextAccessError(pc: pc, reason: "read at offset \(offset) is outside struct xdp_md (\(Self.kernelContextSize) bytes)")
                }
                if offset == 20 {
                    throw ContextAccessError(pc: pc, reason: "xdp_md.egress_ifindex is only available to devmap programs")
                }
                guard let field = Self.fields[offset], size == .word else {
                    throw ContextAccessError(pc: pc, reason: "\(size.bytes)-byte read at offset \(offset) of struct xdp_md; its fields are read as whole aligned 4-byte values")
                }
                rewritten.replace(at: pc, with: .load(field.size, dst: dst, src: src, offset: Int16(field.offset)))
            case .loadSignExtend(_, _, _, let offset):
                throw ContextAccessError(pc: pc, reason: "sign-extending read at offset \(offset) of struct xdp_md is not allowed")
            case .store(_, _, let offset, _), .storeImmediate(_, _, let offset, _), .atomic(_, _, _, let offset, _):
                let what = Self.fields[offset].map { "xdp_md.\($0.name)" } ?? "offset \(offset) of struct xdp_md"
                throw ContextAccessError(pc: pc, reason: "write to \(what): the XDP context is read-only")
            default:
                break
            }
        }
        return rewritten
    }

    /// On an engine of the other byte order than the host's (a big-endian
    /// one here), the context's words are stored in the engine's order, as
    /// `struct xdp_buff` is on a big-endian machine; the packet's bytes are
    /// network order either way.
    public func makeRun(input: [UInt8], maps: MapRegionTable, byteOrder: ByteOrder) throws(ProgramRunError) -> any ProgramRun {
        guard input.count >= XDPFrame.ethernetHeaderSize else {
            throw .inputTooSmall(type: name, size: input.count, minimum: XDPFrame.ethernetHeaderSize)
        }
        guard input.count <= XDPFrame.maxPacketSize else {
            throw .inputTooLarge(type: name, size: input.count, maximum: XDPFrame.maxPacketSize)
        }
        return XDPRun(XDPFrame(packet: input, ingressInterface: ingressInterface, receiveQueue: receiveQueue, byteOrder: byteOrder),
                      maps: maps)
    }

    final class XDPRun: ProgramRun {
        let frame: XDPFrame
        let input: RunInput

        init(_ frame: XDPFrame, maps: MapRegionTable) {
            self.frame = frame
            input = Self.input(frame, maps: maps)
        }

        /// The registers and regions of a run over `frame` (which must outlive the run).
        static func input(_ frame: XDPFrame, maps: MapRegionTable) -> RunInput {
            // The packet is not a static region: its ends move with the adjust helpers.
            let resolver: @Sendable (UInt64, Int, Bool) -> Bool = { [frame] address, size, write in
                frame.permits(address, size: size) || maps.permits(address, size: size, write: write)
            }
            let extents: @Sendable (UInt64, UInt64) -> [Range<UInt64>] = { [frame] low, high in
                [frame.extent] + maps.extents(low, high)
            }
            // The engines check the packet inline at its live ends, read from
            // the context the adjust helpers update. The start is `data_meta`,
            // not `data`: programs may touch their metadata, and the resolver
            // (`XDPFrame.permits`) admits exactly [data_meta, data_end),
            // writable, which this mirrors. The frame (and so the context
            // holding both words) lives as long as this run.
            let packet = DynamicRegion(startWord: frame.context.address + UInt64(XDPContext.dataMeta),
                                       endWord: frame.context.address + UInt64(XDPContext.dataEnd), writable: true)
            // The inline check reads the words in the host's order; with the
            // context in the other order, the resolver alone judges the packet.
            var input = RunInput(r1: frame.context.address, r2: 0,
                                 regions: MemoryRegions([frame.context.region(.context, writable: false)], resolver: resolver,
                                                        extents: extents),
                                 dynamicRegion: frame.byteOrder == .host ? packet : nil)
            // The packet pointers, which 32-bit engines show as their own
            // addresses (stored in the frame's byte order, which is the engine's).
            input.pointerWords = [XDPContext.data, XDPContext.dataEnd, XDPContext.dataMeta].map { frame.context.address + UInt64($0) }
            return input
        }

        func output() -> [UInt8] { frame.packet }

        /// The packet from `data` to `data_end` as the run left them, and the context.
        var namedRegions: [NamedRegion] {
            let context = frame.context.region(.context, writable: false)
            return [NamedRegion(name: "packet", start: frame.data, count: Int(frame.dataEnd &- frame.data)),
                    NamedRegion(name: "context", start: context.start, count: context.count)]
        }

        func verdict(returnValue: UInt64) -> String? { XDPAction(rawValue: returnValue)?.description }

        /// The target only counts when the program returned `XDP_REDIRECT`; with no
        /// target recorded the kernel's `xdp_do_redirect` fails and drops the packet.
        func redirect(returnValue: UInt64) -> RedirectTarget? {
            returnValue == XDPAction.redirect.rawValue ? frame.redirect.target : nil
        }
    }
}
