import BPFClassic
import CPcap

/// A filter expression libpcap cannot compile.
public struct FilterExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let expression: String
    public let reason: String
    public var description: String { "filter '\(expression)': \(reason)" }
}

/// Filter expressions (`tcp port 443 and net 10.0.0.0/8`) compiled by
/// libpcap's `pcap_compile` for a link type, and libpcap's own interpreter
/// of the result (`pcap_offline_filter`), the reference BPFKit is measured against.
public final class FilterExpression: @unchecked Sendable {
    public let expression: String
    public let linkType: Int32
    /// The compiled program, checked as the kernel checks classic programs.
    public let program: ClassicProgram
    private var compiled: bpf_program

    /// Compiles `expression` (optimised, netmask unknown, as tcpdump on a file).
    public init(_ expression: String, linkType: Int32, snapshotLength: Int = 262_144) throws {
        self.expression = expression
        self.linkType = linkType
        guard let dead = pcap_open_dead(linkType, Int32(clamping: snapshotLength)) else {
            throw FilterExpressionError(expression: expression, reason: "libpcap cannot open link type \(linkType)")
        }
        defer { pcap_close(dead) }
        var program = bpf_program()
        guard pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw FilterExpressionError(expression: expression, reason: String(cString: pcap_geterr(dead)))
        }
        compiled = program
        let instructions = (0..<Int(program.bf_len)).map { i in
            let insn = program.bf_insns[i]
            return ClassicInstruction(code: insn.code, jt: insn.jt, jf: insn.jf, k: insn.k)
        }
        do {
            self.program = try ClassicProgram(instructions)
        } catch {
            pcap_freecode(&compiled)
            throw error
        }
    }

    deinit { pcap_freecode(&compiled) }

    /// What libpcap's interpreter returns for `packet` (0: no match).
    public func offlineFilter(_ packet: CapturedPacket) -> UInt32 {
        var header = pcap_pkthdr()
        header.caplen = UInt32(packet.bytes.count)
        header.len = packet.wireLength
        return packet.bytes.withUnsafeBufferPointer { bytes in
            UInt32(bitPattern: pcap_offline_filter(&compiled, &header, bytes.baseAddress))
        }
    }
}

extension ClassicProgram {
    /// What libpcap's interpreter (`bpf_filter`) returns for this program on
    /// `packet` (the captured bytes) with wire length `wireLength`. libpcap
    /// knows no ancillary loads, and computes `X + k` of indirect loads
    /// without wrapping; elsewhere its semantics are the kernel's.
    public func libpcapResult(packet: [UInt8], wireLength: UInt32) -> UInt32 {
        let program = instructions.map { bpf_insn(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        return program.withUnsafeBufferPointer { code in
            packet.withUnsafeBufferPointer { bytes in
                UInt32(bpf_filter(code.baseAddress, bytes.baseAddress, wireLength, UInt32(bytes.count)))
            }
        }
    }
}
