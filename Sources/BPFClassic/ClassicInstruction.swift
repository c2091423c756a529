/// One classic BPF instruction, the kernel's `struct sock_filter`:
///
///     struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; };
///
/// `code` is class | size | mode (loads), class | op | source (ALU, jumps),
/// or class | return source. Conditional jumps skip `jt` or `jf`
/// instructions forward; `ja` skips `k`.
public struct ClassicInstruction: Sendable, Hashable, CustomStringConvertible {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    // Classes.
    public static let ld: UInt16 = 0x00, ldx: UInt16 = 0x01, st: UInt16 = 0x02, stx: UInt16 = 0x03
    public static let alu: UInt16 = 0x04, jmp: UInt16 = 0x05, ret: UInt16 = 0x06, misc: UInt16 = 0x07
    // Load sizes and modes.
    public static let w: UInt16 = 0x00, h: UInt16 = 0x08, b: UInt16 = 0x10
    public static let imm: UInt16 = 0x00, abs: UInt16 = 0x20, ind: UInt16 = 0x40, mem: UInt16 = 0x60
    public static let len: UInt16 = 0x80, msh: UInt16 = 0xa0
    // ALU and jump operations.
    public static let add: UInt16 = 0x00, sub: UInt16 = 0x10, mul: UInt16 = 0x20, div: UInt16 = 0x30
    public static let or: UInt16 = 0x40, and: UInt16 = 0x50, lsh: UInt16 = 0x60, rsh: UInt16 = 0x70
    public static let neg: UInt16 = 0x80, mod: UInt16 = 0x90, xor: UInt16 = 0xa0
    public static let ja: UInt16 = 0x00, jeq: UInt16 = 0x10, jgt: UInt16 = 0x20, jge: UInt16 = 0x30, jset: UInt16 = 0x40
    // Sources.
    public static let srcK: UInt16 = 0x00, srcX: UInt16 = 0x08
    // Return sources.
    public static let retK: UInt16 = 0x00, retA: UInt16 = 0x10
    // Misc operations.
    public static let tax: UInt16 = 0x00, txa: UInt16 = 0x80

    /// Memory words `M[0]`...`M[15]` (`BPF_MEMWORDS`).
    public static let memoryWords: UInt32 = 16
    /// Most instructions a classic program may have (`BPF_MAXINSNS`).
    public static let maxInstructions = 4096

    public var instructionClass: UInt16 { code & 0x07 }
    public var size: UInt16 { code & 0x18 }
    public var mode: UInt16 { code & 0xe0 }
    public var operation: UInt16 { code & 0xf0 }
    public var source: UInt16 { code & 0x08 }

    /// Bytes a packet load of this size reads.
    public var loadBytes: Int {
        switch size {
        case Self.h: 2
        case Self.b: 1
        default: 4
        }
    }

    /// The `struct sock_filter` wire form (host byte order, as the kernel and libpcap keep it).
    public var bytes: [UInt8] {
        [UInt8(code & 0xff), UInt8(code >> 8), jt, jf,
         UInt8(k & 0xff), UInt8((k >> 8) & 0xff), UInt8((k >> 16) & 0xff), UInt8(k >> 24)]
    }

    /// `code jt jf k`, as `tcpdump -ddd` prints it.
    public var description: String { "\(code) \(jt) \(jf) \(k)" }
}

/// Ancillary loads: `ld [SKF_AD_OFF + n]` reads a property of the packet
/// rather than its bytes (the kernel's `SKF_AD_*`).
public enum AncillaryField: UInt32, Sendable, CaseIterable {
    case protocolNumber = 0, packetType = 4, interfaceIndex = 8, netlinkAttribute = 12, netlinkAttributeNest = 16
    case mark = 20, queue = 24, hardwareType = 28, receiveHash = 32, cpu = 36, aluXorX = 40
    case vlanTag = 44, vlanTagPresent = 48, payloadOffset = 52, random = 56, vlanProtocol = 60

    /// `SKF_AD_OFF`: ancillary offsets are this plus the field's number.
    public static let base: UInt32 = 0xffff_f000  // -0x1000
    /// `SKF_AD_MAX`.
    public static let end: UInt32 = 64
    /// `SKF_NET_OFF` and `SKF_LL_OFF`: negative offsets relative to the
    /// network and link-layer headers.
    public static let networkOffset: UInt32 = 0xfff0_0000  // -0x100000
    public static let linkLayerOffset: UInt32 = 0xffe0_0000  // -0x200000

    public var name: String {
        switch self {
        case .protocolNumber: "proto"
        case .packetType: "type"
        case .interfaceIndex: "ifidx"
        case .netlinkAttribute: "nla"
        case .netlinkAttributeNest: "nlan"
        case .mark: "mark"
        case .queue: "queue"
        case .hardwareType: "hatype"
        case .receiveHash: "rxhash"
        case .cpu: "cpu"
        case .aluXorX: "xor_x"
        case .vlanTag: "vlan_tci"
        case .vlanTagPresent: "vlan_avail"
        case .payloadOffset: "poff"
        case .random: "rand"
        case .vlanProtocol: "vlan_tpid"
        }
    }

    /// The kernel's name for the offset (`SKF_AD_PROTOCOL`, ...).
    public var kernelName: String {
        switch self {
        case .protocolNumber: "SKF_AD_PROTOCOL"
        case .packetType: "SKF_AD_PKTTYPE"
        case .interfaceIndex: "SKF_AD_IFINDEX"
        case .netlinkAttribute: "SKF_AD_NLATTR"
        case .netlinkAttributeNest: "SKF_AD_NLATTR_NEST"
        case .mark: "SKF_AD_MARK"
        case .queue: "SKF_AD_QUEUE"
        case .hardwareType: "SKF_AD_HATYPE"
        case .receiveHash: "SKF_AD_RXHASH"
        case .cpu: "SKF_AD_CPU"
        case .aluXorX: "SKF_AD_ALU_XOR_X"
        case .vlanTag: "SKF_AD_VLAN_TAG"
        case .vlanTagPresent: "SKF_AD_VLAN_TAG_PRESENT"
        case .payloadOffset: "SKF_AD_PAY_OFFSET"
        case .random: "SKF_AD_RANDOM"
        case .vlanProtocol: "SKF_AD_VLAN_TPID"
        }
    }

    /// Whether BPFKit can answer it outside the kernel (the others need a
    /// socket buffer's kernel state: netlink attributes, marks, queues, hashes).
    public var isSupported: Bool {
        switch self {
        case .protocolNumber, .packetType, .interfaceIndex, .cpu, .aluXorX, .vlanTag, .vlanTagPresent, .random, .vlanProtocol: true
        default: false
        }
    }

    /// The field an absolute load at offset `k` reads, if `k` is in the ancillary range.
    public static func at(_ k: UInt32) -> AncillaryField?? {
        guard k >= base else { return .none }
        return .some(AncillaryField(rawValue: k &- base))
    }
}

/// A classic program that does not decode or would not be accepted by the
/// kernel's `bpf_check_classic`; names the instruction (or the text line).
public struct ClassicError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Location: Sendable, Hashable {
        case instruction(Int)
        case line(Int)
        case program
    }
    public let location: Location
    public let reason: String

    public init(_ location: Location, _ reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String {
        switch location {
        case .instruction(let pc): "cBPF instruction \(pc): \(reason)"
        case .line(let n): "line \(n): \(reason)"
        case .program: reason
        }
    }
}
