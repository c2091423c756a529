import ArgumentParser
import BPFAssembler
import BPFClassic
import BPFKit
import BPFPcap
import Foundation

/// `bpfkit filter`: a tcpdump filter expression, compiled by libpcap to
/// classic BPF, translated to eBPF and run on every packet of a capture.
struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Run a tcpdump filter expression over a capture on BPFKit's engines.",
        discussion: """
            EXPR is compiled by libpcap (pcap_compile) for the capture's link type into classic BPF, which is \
            translated to eBPF, verified and run on every packet. Prints each matching packet (record number, \
            captured and wire length) and, last, "N of M packets match". Without FILE, --dump shows the programs \
            for --link-type.
            """)

    @Argument(help: "The filter expression (tcpdump syntax), or with --cbpf a classic program file.")
    var expression: String

    @Argument(help: "A pcap or pcapng capture.")
    var file: String?

    @OptionGroup var engineOptions: EngineOptions

    @Flag(name: .long, help: "Print only the count line.")
    var count = false

    @Option(name: .long, help: "Write the matching packets to this pcap file.")
    var write: String?

    @Flag(name: .long, help: "Show the classic program and the translated eBPF program.")
    var dump = false

    @Flag(name: .long, help: "EXPR is a file holding a classic program: tcpdump -ddd or -dd text, or struct sock_filter bytes.")
    var cbpf = false

    @Option(name: .customLong("link-type"), help: "Link type to compile for when no capture is given (libpcap's name, e.g. EN10MB, RAW).")
    var linkType: String = "EN10MB"

    func run() throws {
        let (kind, architecture) = try engineOptions.resolve()
        let byteOrder = try engineOptions.resolveByteOrder()
        var reader: CaptureReader?
        let link: Int32
        if let file {
            do { reader = try CaptureReader(path: file) } catch { throw fail(error.description) }
            link = reader!.linkType
        } else {
            guard dump else { throw fail("give a capture file (or --dump to only show the programs)") }
            guard let value = LinkType.named(linkType) else { throw fail("unknown link type '\(linkType)'") }
            link = value
        }
        let classic: ClassicProgram
        if cbpf {
            classic = try Self.readClassic(expression)
        } else {
            do { classic = try FilterExpression(expression, linkType: link).program } catch { throw fail("\(error)") }
        }
        let filter: ClassicFilter
        do {
            let engine = try EngineCatalog.engine(kind, architecture: architecture, byteOrder: byteOrder)
            filter = try ClassicFilter(classic, engine: engine, hardened: engineOptions.harden)
        } catch { throw fail("\(error)") }
        if dump {
            print("cBPF (\(classic.instructions.count) instructions, link type \(LinkType.name(link) ?? "\(link)")):")
            print(classic.disassembly, terminator: "")
            print("eBPF (\(filter.program.instructions.count) instructions):")
            for (pc, instruction) in filter.program.instructions.enumerated() where instruction != .immediate64Tail {
                print(String(format: "%4d: ", pc) + Disassembler.text(of: instruction, at: pc, style: .llvm))
            }
        }
        guard let reader, let file else { return }
        var writer: CaptureWriter?
        if let write {
            do { writer = try CaptureWriter(path: write, linkType: link, snapshotLength: reader.snapshotLength) } catch {
                throw fail(error.description)
            }
        }
        var total = 0, matched = 0
        do {
            while let packet = try reader.next() {
                total += 1
                let metadata = PacketMetadata.forCapture(packet, linkType: link)
                let result: UInt32
                do { result = try filter.run(packet.bytes, metadata: metadata) } catch {
                    throw fail("\(file): record \(total): \(error)")
                }
                guard result != 0 else { continue }
                matched += 1
                if !count { print("\(total): \(packet.bytes.count) of \(packet.wireLength) bytes") }
                if let writer {
                    var kept = packet
                    if Int(result) < kept.bytes.count { kept.bytes = Array(kept.bytes.prefix(Int(result))) }
                    writer.write(kept)
                }
            }
        } catch let error as CaptureError { throw fail(error.description) }
        writer?.close()
        print("\(matched) of \(total) packets match")
    }

    /// A classic program from a file: `tcpdump -ddd` / `-dd` text, or `struct sock_filter` bytes.
    static func readClassic(_ path: String) throws(ExitCode) -> ClassicProgram {
        let bytes = Array(try readFile(path))
        let text = String(decoding: bytes, as: UTF8.self)
        let first = text.first { !$0.isWhitespace }
        do {
            if let first, first.isNumber || first == "{" || first == "#", !bytes.contains(0) {
                return try ClassicProgram(text: text)
            }
            return try ClassicProgram(bytes: bytes)
        } catch { throw fail("\(path): \(error)") }
    }
}
