import BPFISA
import BPFKit
import Foundation
import Testing

/// The C examples (XDP programs with maps, global data, atomics, tail calls
/// through a statically filled program array, head and tail adjustment) on
/// the RISC-V 64 JIT against the interpreter: the return value and the
/// packet after every run of a sequence of packets, each engine with its own
/// copy of the object's maps, so that map state carries from run to run.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the examples"))
struct ExampleTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    static let programs = ["xdp_swap_mac", "xdp_proto_count", "xdp_adjust", "global_data", "atomics", "tail_call_pipeline"]

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

    static func observe(_ path: String, on engine: EngineKind, architecture: Architecture?, packets: [[UInt8]]) throws -> [String] {
        let file = try ProgramFile.load(path: path)
        let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
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
        let jit = try Self.observe(path, on: .jit, architecture: .riscv64, packets: packets)
        for (k, (a, b)) in zip(reference, jit).enumerated() where a != b {
            Issue.record("\(name), packet \(k): interpreter \(a), riscv64 \(b)")
        }
    }
}
