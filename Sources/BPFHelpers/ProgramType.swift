import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// A kind of program (the kernel's `bpf_prog_type`): what its context is,
/// which context accesses are allowed and how they are rewritten, and how a
/// test run's input becomes memory and registers, and its output bytes.
public protocol ProgramType: Sendable {
    /// `mem`, `xdp`.
    var name: String { get }
    /// Rewrites every access through the context pointer into BPFKit's own
    /// context layout, or refuses it (the kernel's `convert_ctx_access`).
    func rewriteContextAccesses(in program: Program) throws(ContextAccessError) -> Program
    /// Whether programs of this type may call `helper`.
    func allows(_ helper: KernelHelper) -> Bool
    /// Builds the memory, regions and argument registers for one run over
    /// `input`; `maps` answers for map values (the resolver). `byteOrder` is
    /// the order of the engine's memory: a context the type builds holds its
    /// words in that order, as it would on a machine of that order.
    func makeRun(input: [UInt8], maps: MapRegionTable, byteOrder: ByteOrder) throws(ProgramRunError) -> any ProgramRun
    /// What r1 points to at entry, for the verifier (after context rewriting).
    var verifierContext: ContextDescription { get }
    /// Whether r2 holds a value at entry.
    var setsR2AtEntry: Bool { get }
    /// Whether r1 points at entry to exactly r2 bytes the run may read and
    /// write (`mem`), so that the verifier follows r1 against that length
    /// (`VerifierEnvironment.r2IsInputLength`). Every run the type makes
    /// must then hand the program r2 no larger than the memory at r1.
    var r2IsInputLength: Bool { get }
    /// The longest input a run of this type is given (`makeRun` and
    /// in-place buffers refuse longer ones), or nil. With
    /// `r2IsInputLength` the verifier starts r2 in `[0, maxInputLength]`.
    var maxInputLength: Int? { get }
    /// Byte ranges of the (rewritten) context programs may write.
    var writableContext: [Range<Int>] { get }
}

extension ProgramType {
    /// By default the verifier knows nothing of the context.
    public var verifierContext: ContextDescription { .unknown }
    public var setsR2AtEntry: Bool { false }
    public var r2IsInputLength: Bool { false }
    public var maxInputLength: Int? { nil }
    public var writableContext: [Range<Int>] { [] }

    /// A run for an engine whose memory has the host's byte order.
    public func makeRun(input: [UInt8], maps: MapRegionTable) throws(ProgramRunError) -> any ProgramRun {
        try makeRun(input: input, maps: maps, byteOrder: .host)
    }
}

/// The memory of one run. Keep it alive while the program runs: `input`
/// holds raw addresses into it.
public protocol ProgramRun: AnyObject, Sendable {
    /// Registers and regions to hand to `PreparedProgram.run`.
    var input: RunInput { get }
    /// The bytes a test run returns afterwards (`data_out`): the input buffer
    /// for `mem`; for `xdp` the packet from `data_meta` (metadata the program
    /// left, usually none) to `data_end`, as the kernel's test run returns it.
    func output() -> [UInt8]
    /// The context a test run returns (`ctx_out`), for types that have one
    /// (`tc`: the `struct __sk_buff` fields the kernel copies back).
    func contextOutput() -> [UInt8]?
    /// The run's memory as the program knows it (`packet`, `context`,
    /// `input`), at its current bounds, so that errors can name an address
    /// by region and offset instead of by host address.
    var namedRegions: [NamedRegion] { get }
    /// The name of the action a return value stands for (`XDP_PASS`), if the type has actions.
    func verdict(returnValue: UInt64) -> String?
    /// Where the packet goes after a run that returned `returnValue`: the
    /// redirect target the program chose, when the value is the type's redirect action.
    func redirect(returnValue: UInt64) -> RedirectTarget?
}

extension ProgramRun {
    public func contextOutput() -> [UInt8]? { nil }
    public func verdict(returnValue: UInt64) -> String? { nil }
    public func redirect(returnValue: UInt64) -> RedirectTarget? { nil }
}

/// A region of a run's memory by the name the program knows it by.
public struct NamedRegion: Sendable, Hashable {
    public var name: String
    public var start: UInt64
    public var count: Int

    public init(name: String, start: UInt64, count: Int) {
        self.name = name
        self.start = start
        self.count = count
    }
}

extension ProgramRun {
    /// By default, the run input's static regions, named by kind.
    public var namedRegions: [NamedRegion] {
        input.regions.regions.map { NamedRegion(name: $0.kind.rawValue, start: $0.start, count: $0.count) }
    }
}

/// Program types by name and by ELF section.
public enum ProgramTypes {
    public static let mem: any ProgramType = MemProgramType()
    public static let xdp: any ProgramType = XDPProgramType()
    public static let tc: any ProgramType = TCProgramType()

    /// The names `named` knows, for messages.
    public static let names = "mem, xdp, tc (or sched_cls)"

    /// `mem`, `xdp`, or `tc` (also `sched_cls`, the kernel's name).
    public static func named(_ name: String) -> (any ProgramType)? {
        switch name {
        case "mem": mem
        case "xdp": xdp
        case "tc", "sched_cls": tc
        default: nil
        }
    }

    /// The type libbpf would infer from a section name (`xdp`, `xdp/...`,
    /// `xdp.frags`; `tc`, `tc/...`, `tcx/...`, `classifier`, `classifier/...`), if BPFKit has it.
    public static func forSection(_ section: String) -> (any ProgramType)? {
        if section == "xdp" || section.hasPrefix("xdp/") || section.hasPrefix("xdp.") { return xdp }
        if section == "tc" || section == "classifier" || ["tc/", "tcx/", "classifier/"].contains(where: { section.hasPrefix($0) }) {
            return tc
        }
        return nil
    }
}

/// Why a test run's input cannot be set up.
public enum ProgramRunError: Error, Sendable, Hashable, CustomStringConvertible {
    case inputTooSmall(type: String, size: Int, minimum: Int)
    case inputTooLarge(type: String, size: Int, maximum: Int)
    /// An IPv4 or IPv6 packet too short for its header (the kernel's tc test run refuses it).
    case truncatedHeader(type: String, size: Int, minimum: Int, header: String)
    /// A test-run context (`ctx_in`) the kernel would refuse.
    case badContext(String)
    /// In-place buffers (`InPlaceBuffer`) exist for `mem` and `xdp` only.
    case unsupportedType(String)

    public var description: String {
        switch self {
        case .inputTooSmall(let type, let size, let minimum):
            "\(type) input is \(size) bytes; it needs at least \(minimum) (an Ethernet header)"
        case .inputTooLarge(let type, let size, let maximum):
            type == "mem"
                ? "mem input is \(size) bytes, over the program's maximum input of \(maximum) (load it with a larger maximum, e.g. --max-input, up to \(MemProgramType.largestMaxInput))"
                : "\(type) input is \(size) bytes; at most \(maximum) fit one frame (multi-buffer frames are not supported)"
        case .truncatedHeader(let type, let size, let minimum, let header):
            "\(type) input is a \(header) packet of \(size) bytes; it needs at least \(minimum) (Ethernet and \(header) headers)"
        case .badContext(let reason): reason
        case .unsupportedType(let type):
            "programs of type \(type) cannot run in place (in-place buffers exist for mem and xdp)"
        }
    }
}

/// A context access the program type does not allow, found at load time.
public struct ContextAccessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Slot index of the offending instruction.
    public let pc: Int
    public let reason: String

    public init(pc: Int, reason: String) {
        self.pc = pc
        self.reason = reason
    }

    public var description: String { "instruction \(pc): \(reason)" }
}

/// `mem`: r1 = the input buffer (writable), r2 = its length; the output is
/// the buffer after the run (the conformance suite's convention). There is
/// no context struct, so nothing is rewritten.
public struct MemProgramType: ProgramType {
    /// The default longest input: 4,096 bytes, one page (an XDP frame
    /// allows 3,520 bytes of packet). A loop that runs to the length then
    /// ends within what the verifier explores, so its end is proven.
    public static let defaultMaxInput = 4096
    /// The largest `maxInput`: 65,535 bytes, the kernel's largest packet
    /// offset (`MAX_PACKET_OFF`) and the largest IP packet.
    public static let largestMaxInput = 0xffff

    /// The longest input a run of the program is given. The verifier
    /// starts r2 in `[0, maxInput]` and its proofs may rest on that bound
    /// (a loop to the length, an offset derived from r2), so runs
    /// (`makeRun`, in-place buffers) refuse longer inputs, and every engine
    /// refuses a run whose r2 exceeds it (`ProgramProofs.inputLengthLimit`).
    public let maxInput: Int

    /// `maxInput` must lie in `0...largestMaxInput` (`validMaxInput` checks a value from outside).
    public init(maxInput: Int = MemProgramType.defaultMaxInput) {
        precondition((0...Self.largestMaxInput).contains(maxInput), "mem input maximum \(maxInput) is outside 0...\(Self.largestMaxInput)")
        self.maxInput = maxInput
    }

    /// Why `bytes` cannot be a maximum input, or nil when it can.
    public static func invalidMaxInput(_ bytes: Int) -> String? {
        (0...largestMaxInput).contains(bytes) ? nil
            : "the mem input maximum must be between 0 and \(largestMaxInput) bytes, not \(bytes)"
    }
    public var name: String { "mem" }

    public func rewriteContextAccesses(in program: Program) throws(ContextAccessError) -> Program { program }

    public func allows(_ helper: KernelHelper) -> Bool { !helper.requiresPacketContext }

    /// r1 is the input buffer, r2 its length: accesses through r1 are
    /// proven against what comparisons with r2 establish.
    public var verifierContext: ContextDescription { .unknown }
    public var setsR2AtEntry: Bool { true }
    public var r2IsInputLength: Bool { true }

    public var maxInputLength: Int? { maxInput }

    /// The input is bytes the program reads in its own order: nothing to order.
    public func makeRun(input: [UInt8], maps: MapRegionTable, byteOrder: ByteOrder) throws(ProgramRunError) -> any ProgramRun {
        guard input.count <= maxInput else { throw .inputTooLarge(type: name, size: input.count, maximum: maxInput) }
        return MemRun(input, maps: maps)
    }

    final class MemRun: ProgramRun {
        let memory: GuestMemory
        let input: RunInput

        init(_ bytes: [UInt8], maps: MapRegionTable) {
            memory = GuestMemory(bytes: bytes)
            let regions = bytes.isEmpty ? [] : [memory.region(.input)]
            input = RunInput(r1: bytes.isEmpty ? 0 : memory.address, r2: UInt64(bytes.count),
                             regions: MemoryRegions(regions, resolver: maps.regions.isEmpty ? nil : maps.resolver,
                                                    extents: maps.extentsQuery))
        }

        func output() -> [UInt8] { memory.read() }
    }
}
