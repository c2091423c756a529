import BPFEmulator
import BPFJITArm32
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The C examples (clang -target bpf), XDP with packet pointers, maps, ring
/// buffers, atomics and a tail-call pipeline, on the arm32 JIT against the
/// interpreter: results, output packets, traces, maps and ring records.
/// `global_data` and `atomics` keep their global variables in map values
/// whose addresses `ld_imm64` loads: the machine's fixed windows.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the examples"))
struct ExampleTests {
    static let examplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    /// The C examples and the cpu versions they build for (fetching atomics need v3).
    static let examples: [(name: String, cpus: [String])] = [
        ("xdp_proto_count", ["v1", "v2", "v3", "v4"]), ("xdp_swap_mac", ["v1", "v2", "v3", "v4"]),
        ("ringbuf_events", ["v1", "v2", "v3", "v4"]), ("tail_call_pipeline", ["v2", "v4"]),
        ("xdp_adjust", ["v1", "v2", "v3", "v4"]), ("global_data", ["v1", "v2", "v3", "v4"]), ("atomics", ["v3", "v4"]),
    ]

    /// Packets every example sees: the two sample packets and others that
    /// take each example's other paths (short, ARP, IPv6, TTL 1, the
    /// example's own ethertype, a large one).
    static let packets: [[UInt8]] = {
        func read(_ name: String) -> [UInt8] {
            (try? Data(contentsOf: examplesDirectory.appendingPathComponent("packets/\(name)"))).map(Array.init) ?? []
        }
        func ethernet(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] { TestPackets.ethernet(type, payload: payload) }
        func bytes(_ count: Int, seed: UInt8) -> [UInt8] { TestPackets.bytes(count, seed: seed) }
        func ipv4(_ proto: UInt8, ttl: UInt8, _ payload: [UInt8]) -> [UInt8] { TestPackets.ipv4(protocol: proto, ttl: ttl, payload: payload) }
        return [read("ipv4_tcp.bin"), read("ipv4_udp.bin"), ipv4(6, ttl: 64, bytes(100, seed: 3)), ipv4(17, ttl: 1, bytes(8, seed: 5)),
                ethernet(0x0806, bytes(28, seed: 1)), ethernet(0x86dd, bytes(40, seed: 2)), ethernet(0x0800, [0x45, 0]),
                ethernet(0x88b5, [0xbe, 0xef, 0x08, 0x00] + bytes(70, seed: 4)), ethernet(0x0800, bytes(70, seed: 200)),
                ethernet(0x1234, bytes(300, seed: 9)), ipv4(6, ttl: 9, bytes(1200, seed: 7))]
    }()

    /// Everything a run sequence left behind, to compare across engines.
    struct Observed: Equatable {
        var runs: [String] = []
        var traces: [String] = []
        var maps: [String: [[UInt8]: [UInt8]]] = [:]
        var rings: [String: [[UInt8]]] = [:]

        /// What differs from `other`, briefly.
        func difference(from other: Observed) -> String {
            var parts: [String] = []
            for (k, (a, b)) in zip(runs, other.runs).enumerated() where a != b { parts.append("packet \(k): \(a.prefix(120)) vs \(b.prefix(120))") }
            if traces != other.traces { parts.append("traces \(traces) vs \(other.traces)") }
            for name in Set(maps.keys).union(other.maps.keys) where maps[name] != other.maps[name] {
                parts.append("map \(name): \(maps[name] ?? [:]) vs \(other.maps[name] ?? [:])")
            }
            if rings != other.rings { parts.append("rings \(rings) vs \(other.rings)") }
            return parts.joined(separator: "\n")
        }
    }

    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    /// Loads `path` afresh (maps of its own), prepares it with `prepare`,
    /// runs every packet, and collects what happened.
    static func observe(_ path: String, cpu: String, program: String? = nil,
                        prepare: (ProgramFile) throws -> (LinkedProgram, any PreparedProgram)) throws -> Observed {
        let lines = Lines()
        let file = try ProgramFile.load(path: path, LoadRequest(programName: program, cpu: cpu, trace: { lines.append($0) }))
        let (linked, prepared) = try prepare(file)
        var observed = Observed()
        for packet in packets {
            let run = try linked.makeRun(input: packet)
            do {
                let value = try prepared.run(run.input)
                observed.runs.append("\(value) \(run.output())")
            } catch {
                observed.runs.append("error \(error)")
            }
        }
        observed.traces = lines.all
        if let object = file.object {
            for name in object.object.maps.map(\.name) {
                guard let map = object.map(named: name) else { continue }
                if let ring = map as? RingBuffer {
                    observed.rings[name] = ring.consume()
                    continue
                }
                var contents: [[UInt8]: [UInt8]] = [:]
                for key in map.keys() { contents[key] = try? map.lookup(key: key) }
                observed.maps[name] = contents
            }
        }
        return observed
    }

    @Test(arguments: examples.map(\.name))
    func matchesTheInterpreter(name: String) throws {
        let cpus = Self.examples.first { $0.name == name }!.cpus
        let compiler = try CCompiler()
        let source = Self.examplesDirectory.appendingPathComponent("\(name).c").path
        for cpu in cpus {
            // Build once; every engine loads the object with maps of its own.
            let object = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-arm32-\(getpid())-\(name)-\(cpu).o")
            try Data(try compiler.compile(source, cpu: cpu)).write(to: object)
            defer { try? FileManager.default.removeItem(at: object) }
            let reference = try Self.observe(object.path, cpu: cpu) { file in
                (file.linked, try LoadedProgram(file.linked, engine: .interpreter).prepared)
            }
            #expect(!reference.runs.isEmpty)
            let facade = try Self.observe(object.path, cpu: cpu) { file in
                (file.linked, try LoadedProgram(file.linked, engine: .jit, architecture: .arm32).prepared)
            }
            #expect(facade == reference, "\(name) -mcpu=\(cpu) on --arch arm32: \(facade.difference(from: reference))")
            let far = try Self.observe(object.path, cpu: cpu) { file in
                let engine = arm32(divide: false, placement: .farFromHelpers)
                return (file.linked, try engine.prepare(file.linked.program, configuration: file.linked.engineConfiguration()))
            }
            #expect(far == reference, "\(name) -mcpu=\(cpu), division by calls, far from the helpers: \(far.difference(from: reference))")
        }
    }

}
