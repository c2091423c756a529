import ArgumentParser
import BPFKit
import BPFLoader
import BPFPcap
import BPFRuntime
import Foundation

/// How a program type's return values read as verdicts, and which verdicts
/// send the packet on (and so into `--pcap-out`). One entry per program type.
struct VerdictNaming: Sendable {
    let names: [UInt64: String]
    let forwarded: Set<UInt64>
    /// tc programs return an int: only r0's low 32 bits count, sign-extended (TC_ACT_UNSPEC is -1).
    var thirtyTwoBit = false

    func key(_ value: UInt64) -> UInt64 {
        thirtyTwoBit ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: value))) : value
    }
    func name(_ value: UInt64) -> String { names[key(value)] ?? "\(thirtyTwoBit ? "\(Int32(truncatingIfNeeded: value))" : "\(value)")" }
    func forwards(_ value: UInt64) -> Bool { forwarded.contains(key(value)) }

    static let xdp = VerdictNaming(names: [0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"],
                                   forwarded: [2, 3])

    /// tc: the packet goes on after TC_ACT_OK and TC_ACT_REDIRECT.
    static let tc = VerdictNaming(names: [UInt64(bitPattern: -1): "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY",
                                          2: "TC_ACT_SHOT", 3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED",
                                          6: "TC_ACT_REPEAT", 7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP"],
                                  forwarded: [0, 7], thirtyTwoBit: true)

    /// The naming for a program type, or nil when captures cannot feed it.
    static func forType(_ name: String) -> VerdictNaming? {
        switch name {
        case "xdp": xdp
        case "tc", "sched_cls": tc
        default: nil
        }
    }
}

/// What a run over a capture counted.
struct CaptureRunSummary {
    var packets = 0
    var verdicts: [String: Int] = [:]
    var errors: [String: Int] = [:]
    var written = 0
    var seconds = 0.0

    var packetsPerSecond: Double { seconds > 0 ? Double(packets) / seconds : 0 }

    func text(engine: String) -> String {
        let verdictText = verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let errorText = errors.isEmpty ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
            packets: \(packets)
            verdicts: \(verdictText.isEmpty ? "none" : verdictText)
            errors: \(errorText)
            written: \(written)
            engine: \(engine)
            throughput: \(Int(packetsPerSecond.rounded())) packets/s
            """
    }

    func json(engine: String) -> String {
        func object(_ counts: [String: Int]) -> String {
            "{" + counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
        return "{\"packets\":\(packets),\"verdicts\":\(object(verdicts)),\"errors\":\(object(errors)),\"written\":\(written),"
            + "\"engine\":\"\(engine)\",\"seconds\":\(String(format: "%.6f", seconds)),\"packets_per_second\":\(Int(packetsPerSecond.rounded()))}"
    }
}

extension RunCommand {
    /// `bpfkit run PROG --pcap IN`: the program on every packet of a capture,
    /// with maps kept from packet to packet.
    func runCapture(_ inputPath: String, file: ProgramFile, loaded: LoadedProgram) throws {
        let typeName = file.linked.type.name
        guard let naming = VerdictNaming.forType(typeName) else {
            throw fail("--pcap runs packet programs (xdp, tc); \(program) is a \(typeName) program")
        }
        let reader: CaptureReader
        do {
            reader = try CaptureReader(path: inputPath)
            guard reader.linkType == LinkType.ethernet else {
                throw CaptureError(path: inputPath, "link type \(reader.linkTypeName): \(typeName) programs take Ethernet frames (EN10MB)")
            }
        } catch let error as CaptureError { throw fail(error.description) }
        var writer: CaptureWriter?
        if let pcapOut {
            do { writer = try CaptureWriter(path: pcapOut, linkType: reader.linkType, snapshotLength: max(reader.snapshotLength, 65_535)) } catch {
                throw fail(error.description)
            }
        }
        // Packets are read one at a time, so captures of any size run in
        // constant memory; the bar follows the position in the file.
        let progress = isatty(STDOUT_FILENO) != 0 && !json
        var barShown = false
        var summary = CaptureRunSummary()
        func showProgress(final: Bool) {
            let done = Int(reader.fractionRead * 40)
            print("\r[" + String(repeating: "#", count: done) + String(repeating: " ", count: 40 - done) + "] \(summary.packets) packets",
                  terminator: final ? "\n" : "")
            fflush(nil)
            barShown = true
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            while let packet = try reader.next() {
                summary.packets += 1
                do {
                    let result = try loaded.run(input: packet.bytes)
                    summary.verdicts[naming.name(result.returnValue), default: 0] += 1
                    if naming.forwards(result.returnValue), let writer {
                        var out = packet
                        out.bytes = result.output
                        out.wireLength = UInt32(result.output.count) + (packet.wireLength &- UInt32(packet.bytes.count))
                        writer.write(out)
                        summary.written += 1
                    }
                } catch {
                    summary.errors[Self.errorKind(error), default: 0] += 1
                }
                if progress && summary.packets % 1_024 == 0 { showProgress(final: false) }
            }
        } catch {
            if barShown { print("") }
            throw fail(error.description)
        }
        if barShown { showProgress(final: true) }
        let elapsed = clock.now - start
        summary.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        writer?.close()
        if json {
            // One JSON document: with --dump-maps, the maps (in the --map-init format) are a member of it.
            var object = summary.json(engine: loaded.engineName)
            if dumpMaps, object.hasSuffix("}") {
                object.removeLast()
                object += ",\"maps\":" + MapContents.json(file.linked.maps.maps) + "}"
            }
            print(object)
        } else {
            print(summary.text(engine: loaded.engineName))
            if dumpMaps {
                for map in file.linked.maps.maps { print(MapDump.text(map)) }
            }
        }
    }

    /// A short name for what went wrong with one packet: the error's case.
    static func errorKind(_ error: any Error) -> String {
        if case ObjectLoadError.runInput(let input) = error {
            switch input {
            case .inputTooSmall: return "packet too small"
            case .inputTooLarge: return "packet too large"
            case .truncatedHeader(_, _, _, let header): return "\(header) header too short"
            case .badContext: return "bad context"
            case .unsupportedType: return "type cannot run in place"
            }
        }
        if let execution = error as? ExecutionError {
            return Mirror(reflecting: execution).children.first?.label ?? "\(execution)"
        }
        return "\(type(of: error))"
    }
}
