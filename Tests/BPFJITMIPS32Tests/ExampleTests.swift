import BPFISA
import BPFKit
import Foundation
import Testing

/// The C examples (XDP programs with maps, global data, atomics, tail calls
/// through a statically filled program array, head and tail adjustment) on
/// the MIPS32 JIT against the interpreter: the return value and the packet
/// after every run of a sequence of packets, each engine with its own copy of
/// the object's maps, so that map state carries from run to run on both
/// alike. On mips32le the objects are `-target bpf` and the reference the
/// interpreter; on mips32be they are `-target bpfeb` and the reference the
/// big-endian interpreter, which the object's byte order selects.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the examples"))
struct ExampleTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    static let programs = ["xdp_swap_mac", "xdp_proto_count", "xdp_adjust", "global_data", "atomics", "tail_call_pipeline"]

    /// The shipped packets, a short one, and each with its bytes changed.
    static func packets() throws -> [[UInt8]] {
        let shipped = try ["ipv4_tcp", "ipv4_udp"].map {
            [UInt8](try Data(contentsOf: examples.appendingPathComponent("packets/\($0).bin")))
        }
        var all = shipped + [Array(shipped[0].prefix(20)), []]
        for packet in shipped {
            var changed = packet
            for i in stride(from: 12, to: changed.count, by: 7) { changed[i] &+= 0x5b }
            all.append(changed)
        }
        return all + shipped
    }

    /// Each run's return value and packet, or its error.
    static func observe(_ path: String, on engine: EngineKind, architecture: Architecture?, packets: [[UInt8]],
                        byteOrder: ByteOrder? = nil) throws -> [String] {
        var request = LoadRequest()
        request.byteOrder = byteOrder
        let file = try ProgramFile.load(path: path, request)
        let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
        #expect(loaded.byteOrder == byteOrder ?? .host)
        return packets.map { packet in
            do {
                let result = try loaded.run(input: packet)
                return "r0 \(result.returnValue) packet \(result.output)"
            } catch {
                return "error \(error)"
            }
        }
    }

    @Test(arguments: programs)
    func matchesTheInterpreter(name: String) throws {
        let path = Self.examples.appendingPathComponent("\(name).c").path
        let packets = try Self.packets()
        let reference = try Self.observe(path, on: .interpreter, architecture: nil, packets: packets)
        #expect(reference.contains { !$0.hasPrefix("error") }, "\(name): the interpreter ran nothing to the end")
        let jit = try Self.observe(path, on: .jit, architecture: .mips32le, packets: packets)
        for (k, (a, b)) in zip(reference, jit).enumerated() where a != b {
            Issue.record("\(name), packet \(k): interpreter \(a), mips32le \(b)")
        }
    }

    @Test(arguments: programs)
    func bigEndianMatchesTheBigEndianInterpreter(name: String) throws {
        let path = Self.examples.appendingPathComponent("\(name).c").path
        let packets = try Self.packets()
        let reference = try Self.observe(path, on: .interpreter, architecture: nil, packets: packets, byteOrder: .big)
        #expect(reference.contains { !$0.hasPrefix("error") }, "\(name): the big-endian interpreter ran nothing to the end")
        let jit = try Self.observe(path, on: .jit, architecture: .mips32be, packets: packets, byteOrder: .big)
        for (k, (a, b)) in zip(reference, jit).enumerated() where a != b {
            Issue.record("\(name), packet \(k): big-endian interpreter \(a), mips32be \(b)")
        }
    }

    /// A `bpfeb` object is refused by the little-endian MIPS32 JIT, and a
    /// `bpf` one by the big-endian JIT, with an error naming both orders.
    @Test func theOtherByteOrderIsRefused() throws {
        let path = Self.examples.appendingPathComponent("xdp_swap_mac.c").path
        var request = LoadRequest()
        request.byteOrder = .big
        let big = try ProgramFile.load(path: path, request), little = try ProgramFile.load(path: path)
        for (file, arch, words) in [(big, Architecture.mips32le, "big-endian BPF (-target bpfeb) but the mips32le JIT runs little-endian"),
                                    (little, .mips32be, "little-endian BPF (-target bpfel) but the mips32be JIT runs big-endian")] {
            do {
                _ = try LoadedProgram(file, engine: .jit, architecture: arch)
                Issue.record("\(arch) accepted the other byte order")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }
}
