import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// `tc` (the kernel's `BPF_PROG_TYPE_SCHED_CLS`): r1 points to the context,
/// which programs declare as the kernel's `struct __sk_buff`. BPFKit's
/// context (`SKBContext`) keeps the kernel's layout for the scalar fields, so
/// most accesses stay as they are once checked; loads of `data`, `data_end`
/// and `data_meta` become 8-byte loads of the real pointers kept after the
/// struct. As in the kernel's `tc_cls_act_is_valid_access`:
///
/// - reads of 4-byte fields are whole or narrower (1, 2 bytes) and aligned;
///   `cb[]` takes any aligned size inside it; `tstamp` and `hwtstamp` are
///   read as 8 bytes; `data`, `data_end`, `data_meta` as 4;
/// - writes go only to `mark`, `queue_mapping`, `priority`, `tc_index`,
///   `cb[]`, `tc_classid` (4 bytes; `cb[]` any aligned size) and `tstamp`
///   (8 bytes); `tc_index`, `tc_classid` and `queue_mapping` keep 16 bits,
///   as in the kernel (a constant `queue_mapping` of 0xffff or more is not
///   stored; from a register it is, where the kernel tests it at run time);
/// - the socket fields (`family` to `local_port`), `flow_keys`, `sk` and
///   `tstamp_type`, sign-extending loads and atomics are refused.
///
/// A run is a `BPF_PROG_TEST_RUN` of the packet on loopback (see `SKBuff`).
public struct TCProgramType: ProgramType {
    /// What the run's `ctx_in` sets (none by default).
    public var settings: SKBSettings

    public init(settings: SKBSettings = SKBSettings()) {
        self.settings = settings
    }

    public var name: String { "tc" }

    public func allows(_ helper: KernelHelper) -> Bool { !helper.requiresXDP }

    public var verifierContext: ContextDescription {
        .packetContext(size: SKBContext.size, fields: [SKBContext.data: .packetStart, SKBContext.dataEnd: .packetEnd,
                                                      SKBContext.dataMeta: .packetMeta])
    }

    /// The fields programs may write (kernel offsets, which BPFKit's context keeps).
    public var writableContext: [Range<Int>] {
        [SKBContext.mark..<SKBContext.queueMapping + 4, SKBContext.priority..<SKBContext.priority + 4,
         SKBContext.tcIndex..<SKBContext.controlBlock + 20, SKBContext.tcClassID..<SKBContext.tcClassID + 4,
         SKBContext.timestamp..<SKBContext.timestamp + 8]
    }

    static let fieldNames: [Int: String] = [
        0: "len", 4: "pkt_type", 8: "mark", 12: "queue_mapping", 16: "protocol", 20: "vlan_present", 24: "vlan_tci",
        28: "vlan_proto", 32: "priority", 36: "ingress_ifindex", 40: "ifindex", 44: "tc_index", 48: "cb[0]", 52: "cb[1]",
        56: "cb[2]", 60: "cb[3]", 64: "cb[4]", 68: "hash", 72: "tc_classid", 76: "data", 80: "data_end", 84: "napi_id",
        140: "data_meta", 144: "flow_keys", 152: "tstamp", 160: "wire_len", 164: "gso_segs", 168: "sk", 176: "gso_size",
        180: "tstamp_type", 184: "hwtstamp",
    ]

    static func fieldName(_ offset: Int) -> String {
        if let name = fieldNames[offset] { return "__sk_buff.\(name)" }
        if let base = fieldNames.keys.filter({ $0 < offset }).max(), let name = fieldNames[base] {
            return "offset \(offset) of struct __sk_buff (inside \(name))"
        }
        return "offset \(offset) of struct __sk_buff"
    }

    /// Why an access of `size` bytes at `offset` is refused, or nil.
    static func problem(offset: Int, size: Int, write: Bool) -> String? {
        let what = "\(size)-byte \(write ? "write to" : "read of") \(fieldName(offset))"
        guard offset >= 0, offset + size <= SKBContext.kernelSize else {
            return "\(size)-byte access at offset \(offset) is outside struct __sk_buff (\(SKBContext.kernelSize) bytes)"
        }
        guard offset % size == 0 else { return "\(what) is not aligned to its size" }
        if write {
            let writable = [SKBContext.mark, SKBContext.queueMapping, SKBContext.priority, SKBContext.tcIndex,
                            SKBContext.tcClassID, SKBContext.timestamp]
            let inControlBlock = offset >= SKBContext.controlBlock && offset < SKBContext.controlBlock + 20
            guard writable.contains(offset) || inControlBlock else {
                return "\(what): tc programs may write only mark, queue_mapping, priority, tc_index, cb[], tc_classid and tstamp"
            }
        }
        switch offset {
        case SKBContext.controlBlock..<SKBContext.controlBlock + 20:
            return offset + size <= SKBContext.controlBlock + 20 ? nil : "\(what) runs past cb[4]"
        case SKBContext.kernelData, SKBContext.kernelDataEnd, SKBContext.kernelDataMeta:
            return size == 4 ? nil : "\(what): packet pointers are read as whole 4-byte fields"
        case SKBContext.family..<SKBContext.kernelDataMeta:
            return "\(what): the socket fields (family to local_port) are not available to tc programs"
        case SKBContext.flowKeys..<SKBContext.flowKeys + 8:
            return "\(what): flow_keys is only available to flow dissector programs"
        case SKBContext.socket..<SKBContext.socket + 8:
            return "\(what): __sk_buff.sk (a socket pointer) is not supported by BPFKit"
        case SKBContext.timestamp..<SKBContext.timestamp + 8:
            return size == 8 ? nil : "\(what): tstamp is accessed as 8 bytes"
        case SKBContext.hardwareTimestamp..<SKBContext.hardwareTimestamp + 8:
            return size == 8 && !write ? nil : "\(what): hwtstamp is read-only and read as 8 bytes"
        case SKBContext.timestampType..<SKBContext.hardwareTimestamp:
            return "\(what): tstamp_type and the padding after it cannot be accessed"
        default:
            if write { return size == 4 ? nil : "\(what): fields are written as whole 4-byte values" }
            return size <= 4 ? nil : "\(what): a 4-byte field is read with at most 4 bytes"
        }
    }

    public func rewriteContextAccesses(in program: Program) throws(ContextAccessError) -> Program {
        var rewritten = program
        for access in ContextTracker(program: program).contextAccesses() {
            let pc = access.pc
            switch access.tag {
            case .maybe:
                throw ContextAccessError(pc: pc, reason: "\(access.base) holds the context pointer on some paths and not on others; the access cannot be rewritten")
            case .modified:
                throw ContextAccessError(pc: pc, reason: "dereference of a modified context pointer (\(access.base)); read __sk_buff fields at constant offsets from the context")
            case .none, .context:
                break
            }
            switch program.instructions[pc] {
            case .load(let size, let dst, let src, let offset):
                if let problem = Self.problem(offset: Int(offset), size: size.bytes, write: false) {
                    throw ContextAccessError(pc: pc, reason: problem)
                }
                let pointer: Int? = switch Int(offset) {
                case SKBContext.kernelData: SKBContext.data
                case SKBContext.kernelDataEnd: SKBContext.dataEnd
                case SKBContext.kernelDataMeta: SKBContext.dataMeta
                default: nil
                }
                if let pointer {
                    rewritten.replace(at: pc, with: .load(.double, dst: dst, src: src, offset: Int16(pointer)))
                }
            case .loadSignExtend(_, _, _, let offset):
                throw ContextAccessError(pc: pc, reason: "sign-extending read of \(Self.fieldName(Int(offset))) is not allowed")
            case .store(let size, let dst, let offset, let src):
                if let problem = Self.problem(offset: Int(offset), size: size.bytes, write: true) {
                    throw ContextAccessError(pc: pc, reason: problem)
                }
                if Self.halfWordFields.contains(Int(offset)) {
                    rewritten.replace(at: pc, with: .store(.half, dst: dst, offset: offset + Self.halfWordOffset, src: src))
                }
            case .storeImmediate(let size, let dst, let offset, let value):
                if let problem = Self.problem(offset: Int(offset), size: size.bytes, write: true) {
                    throw ContextAccessError(pc: pc, reason: problem)
                }
                if Int(offset) == SKBContext.queueMapping && UInt32(bitPattern: value) >= 0xffff {
                    // NO_QUEUE_MAPPING and above: the kernel drops the store.
                    rewritten.replace(at: pc, with: .jump(offset: 0))
                } else if Self.halfWordFields.contains(Int(offset)) {
                    rewritten.replace(at: pc, with: .storeImmediate(.half, dst: dst, offset: offset + Self.halfWordOffset, imm: value))
                }
            case .atomic(_, _, _, let offset, _):
                throw ContextAccessError(pc: pc, reason: "atomic operation on \(Self.fieldName(Int(offset))): the context takes no atomics")
            default:
                break
            }
        }
        return rewritten
    }

    /// Fields the kernel keeps in 16 bits (`tc_index`, `tc_classid`,
    /// `queue_mapping`): a 4-byte write stores the low half, so reads see it
    /// zero-extended, as the kernel's `convert_ctx_access` makes them.
    static let halfWordFields: Set<Int> = [SKBContext.tcIndex, SKBContext.tcClassID, SKBContext.queueMapping]
    /// Where the low half of a 4-byte field lies.
    static let halfWordOffset: Int16 = 1.littleEndian == 1 ? 0 : 2

    public func makeRun(input: [UInt8], maps: MapRegionTable, byteOrder: ByteOrder) throws(ProgramRunError) -> any ProgramRun {
        // The __sk_buff fields are laid out in the host's order.
        guard byteOrder == .host else {
            throw .badContext("tc programs run on engines of the host's byte order only (struct __sk_buff is laid out in it)")
        }
        guard input.count >= SKBuff.ethernetHeaderSize else {
            throw .inputTooSmall(type: name, size: input.count, minimum: SKBuff.ethernetHeaderSize)
        }
        guard input.count <= SKBuff.maxInput else {
            throw .inputTooLarge(type: name, size: input.count, maximum: SKBuff.maxInput)
        }
        // The kernel's test run refuses an IPv4 or IPv6 packet too short for its header.
        let proto = SKBuff.ethernetProtocol(input)
        for (value, header, size) in [(SKBuff.ipv4, "IPv4", 20), (SKBuff.ipv6, "IPv6", 40)]
            where proto == value && input.count < SKBuff.ethernetHeaderSize + size {
            throw .truncatedHeader(type: name, size: input.count, minimum: SKBuff.ethernetHeaderSize + size, header: header)
        }
        return TCRun(SKBuff(packet: input, settings: settings), maps: maps)
    }

    final class TCRun: ProgramRun {
        let skb: SKBuff
        let input: RunInput

        init(_ skb: SKBuff, maps: MapRegionTable) {
            self.skb = skb
            let resolver: @Sendable (UInt64, Int, Bool) -> Bool = { [skb] address, size, write in
                skb.permits(address, size: size) || maps.permits(address, size: size, write: write)
            }
            let extents: @Sendable (UInt64, UInt64) -> [Range<UInt64>] = { [skb] low, high in
                [skb.extent] + maps.extents(low, high)
            }
            let packet = DynamicRegion(startWord: skb.context.address + UInt64(SKBContext.data),
                                       endWord: skb.context.address + UInt64(SKBContext.dataEnd), writable: true)
            // The struct's fields are the program's to write (the load-time pass
            // allows only the writable ones); the packet pointers after it are not.
            let fields = MemoryRegion(start: skb.context.address, count: SKBContext.kernelSize, writable: true, kind: .context)
            let pointers = MemoryRegion(start: skb.context.address + UInt64(SKBContext.kernelSize),
                                        count: SKBContext.size - SKBContext.kernelSize, writable: false, kind: .context)
            var input = RunInput(r1: skb.context.address, r2: 0, regions: MemoryRegions([fields, pointers], resolver: resolver, extents: extents),
                                 dynamicRegion: packet)
            input.pointerWords = [SKBContext.data, SKBContext.dataEnd, SKBContext.dataMeta].map { skb.context.address + UInt64($0) }
            self.input = input
        }

        func output() -> [UInt8] { skb.packet }
        func contextOutput() -> [UInt8]? { skb.contextOut }

        func verdict(returnValue: UInt64) -> String? { TCAction(returnValue: returnValue)?.description }

        /// The target of `bpf_redirect`, when the program returned `TC_ACT_REDIRECT`.
        func redirect(returnValue: UInt64) -> RedirectTarget? {
            TCAction(returnValue: returnValue) == .redirect ? skb.redirect.target : nil
        }
    }
}

/// A tc program's verdict (`TC_ACT_*` from `<linux/pkt_cls.h>`): r0 as a
/// 32-bit signed value.
public enum TCAction: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case unspecified = -1
    case ok = 0
    case reclassify = 1
    case shot = 2
    case pipe = 3
    case stolen = 4
    case queued = 5
    case `repeat` = 6
    case redirect = 7
    case trap = 8

    /// The verdict r0 holds, if it is one.
    public init?(returnValue: UInt64) {
        self.init(rawValue: Int32(truncatingIfNeeded: returnValue))
    }

    public var description: String {
        switch self {
        case .unspecified: "TC_ACT_UNSPEC"
        case .ok: "TC_ACT_OK"
        case .reclassify: "TC_ACT_RECLASSIFY"
        case .shot: "TC_ACT_SHOT"
        case .pipe: "TC_ACT_PIPE"
        case .stolen: "TC_ACT_STOLEN"
        case .queued: "TC_ACT_QUEUED"
        case .repeat: "TC_ACT_REPEAT"
        case .redirect: "TC_ACT_REDIRECT"
        case .trap: "TC_ACT_TRAP"
        }
    }
}
