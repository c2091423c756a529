import BPFInterpreter
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation

/// The repository's examples (clang -target bpf: XDP with packet pointers,
/// maps, ring buffers, atomics, global data in map values whose addresses
/// `ld_imm64` loads, and a tail-call pipeline; and `fnv1a.s`) on a row
/// against the interpreter of its byte order: return values, output
/// packets, trace lines, every map's final contents and ring records, over
/// one sequence of packets (map state carries from run to run on both
/// alike). The facade's engine (`--arch`) and every configuration each load
/// the object afresh, with maps of their own. A big-endian row builds the
/// objects `-target bpfeb`.
public enum ExampleKit {
    public static let examplesDirectory = BackendMatrix.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples")

    /// The C examples and the cpu versions they build for (fetching atomics need v3).
    public static let examples: [(name: String, cpus: [String])] = [
        ("xdp_proto_count", ["v1", "v2", "v3", "v4"]), ("xdp_swap_mac", ["v1", "v2", "v3", "v4"]),
        ("ringbuf_events", ["v1", "v2", "v3", "v4"]), ("tail_call_pipeline", ["v2", "v4"]),
        ("xdp_adjust", ["v1", "v2", "v3", "v4"]), ("global_data", ["v1", "v2", "v3", "v4"]), ("atomics", ["v3", "v4"]),
    ]

    /// Packets every example sees: the two sample packets, others that take
    /// each example's other paths (short, ARP, IPv6, TTL 1, the example's own
    /// ethertype, a large one), a truncated and an empty one, and the samples
    /// with bytes changed.
    public static let packets: [[UInt8]] = {
        func read(_ name: String) -> [UInt8] {
            (try? Data(contentsOf: examplesDirectory.appendingPathComponent("packets/\(name)"))).map(Array.init) ?? []
        }
        func ethernet(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] { TestPackets.ethernet(type, payload: payload) }
        func bytes(_ count: Int, seed: UInt8) -> [UInt8] { TestPackets.bytes(count, seed: seed) }
        func ipv4(_ proto: UInt8, ttl: UInt8, _ payload: [UInt8]) -> [UInt8] { TestPackets.ipv4(protocol: proto, ttl: ttl, payload: payload) }
        let shipped = [read("ipv4_tcp.bin"), read("ipv4_udp.bin")]
        let changed = shipped.map { packet in
            var changed = packet
            for i in stride(from: 12, to: changed.count, by: 7) { changed[i] &+= 0x5b }
            return changed
        }
        return shipped + [ipv4(6, ttl: 64, bytes(100, seed: 3)), ipv4(17, ttl: 1, bytes(8, seed: 5)),
                          ethernet(0x0806, bytes(28, seed: 1)), ethernet(0x86dd, bytes(40, seed: 2)), ethernet(0x0800, [0x45, 0]),
                          ethernet(0x88b5, [0xbe, 0xef, 0x08, 0x00] + bytes(70, seed: 4)), ethernet(0x0800, bytes(70, seed: 200)),
                          ethernet(0x1234, bytes(300, seed: 9)), ipv4(6, ttl: 9, bytes(1200, seed: 7)),
                          Array(shipped[0].prefix(20)), []] + changed + shipped
    }()

    /// Everything a run sequence left behind, to compare across engines.
    public struct Observed: Equatable, Sendable {
        public var runs: [String] = []
        var traces: [String] = []
        public var maps: [String: [[UInt8]: [UInt8]]] = [:]
        var rings: [String: [[UInt8]]] = [:]

        /// What differs from `other`, briefly.
        public func difference(from other: Observed) -> String {
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

    /// How an object is loaded and run for `observe`: which program, the
    /// packets of the run sequence, the maps whose contents are recorded
    /// after every run (besides every map's at the end), and anything else
    /// the load request needs (kernel functions, say).
    public struct Load {
        public var program: String?
        public var packets: [[UInt8]]
        public var watching: [String]
        public var configure: (inout LoadRequest) -> Void

        public init(program: String? = nil, packets: [[UInt8]] = ExampleKit.packets, watching: [String] = [],
                    configure: @escaping (inout LoadRequest) -> Void = { _ in }) {
            self.program = program
            self.packets = packets
            self.watching = watching
            self.configure = configure
        }
    }

    /// Loads `path` afresh (maps of its own), prepares it with `prepare`,
    /// runs every packet, and collects what happened.
    public static func observe(_ path: String, cpu: String, _ load: Load = Load(), byteOrder: ByteOrder = .little,
                               prepare: (ProgramFile) throws -> (LinkedProgram, any PreparedProgram)) throws -> Observed {
        let lines = Lines()
        var request = LoadRequest(programName: load.program, cpu: cpu, trace: { lines.append($0) })
        request.byteOrder = byteOrder == .big ? .big : nil
        load.configure(&request)
        let file = try ProgramFile.load(path: path, request)
        let (linked, prepared) = try prepare(file)
        func contents(_ map: any BPFMap) -> [[UInt8]: [UInt8]] {
            var contents: [[UInt8]: [UInt8]] = [:]
            for key in map.keys() { contents[key] = try? map.lookup(key: key) }
            return contents
        }
        var observed = Observed()
        for packet in load.packets {
            // A packet the program type refuses (shorter than an Ethernet
            // header for XDP) is an error on every engine alike.
            do {
                let run = try linked.makeRun(input: packet, byteOrder: byteOrder)
                defer { withExtendedLifetime(run) {} }
                let value = try prepared.run(run.input)
                observed.runs.append("\(value) \(run.output())")
            } catch {
                observed.runs.append("error \(error)")
            }
            for name in load.watching {
                let map = file.object?.map(named: name)
                observed.runs[observed.runs.count - 1] += "; \(name) \(map.map { contents($0).sorted { $0.key.lexicographicallyPrecedes($1.key) } } ?? [])"
            }
        }
        observed.traces = lines.all
        if let object = file.object {
            for name in object.object.maps.map(\.name) {
                // A map of maps holds ids of the object's own inner maps, which
                // differ between loads; the inner maps are observed by name.
                guard let map = object.map(named: name), !(map is MapOfMaps) else { continue }
                if let ring = map as? RingBuffer {
                    observed.rings[name] = ring.consume()
                    continue
                }
                observed.maps[name] = contents(map)
            }
        }
        return observed
    }

    /// Builds `source` for the row's byte order once (`-mcpu=cpu`) and
    /// observes `load` on the interpreter of the row's byte order (first),
    /// on the facade's engine for the row's architecture and on each
    /// configuration, every engine loading the object with maps of its own.
    public static func observations(_ row: BackendRow, source: String, cpu: String,
                                    _ load: Load = Load()) throws -> [(engine: String, observed: Observed)] {
        let object = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-\(row.name.filter { $0.isLetter || $0.isNumber })-\(getpid())-\(cpu)-\(UInt32.random(in: 0...UInt32.max)).o")
        try Data(try CCompiler().compile(source, cpu: cpu, byteOrder: row.byteOrder == .big ? .big : nil)).write(to: object)
        defer { try? FileManager.default.removeItem(at: object) }
        var all = [(engine: "interpreter", observed: try observe(object.path, cpu: cpu, load, byteOrder: row.byteOrder) { file in
            (file.linked, try LoadedProgram(file.linked, object: file.object, engine: .interpreter).prepared)
        })]
        if let architecture = row.architecture {
            all.append(("--arch \(architecture)", try observe(object.path, cpu: cpu, load, byteOrder: row.byteOrder) { file in
                (file.linked, try LoadedProgram(file.linked, object: file.object, engine: .jit, architecture: architecture).prepared)
            }))
        }
        for (label, engine) in row.configurations {
            all.append(("\(row.name) \(label)", try observe(object.path, cpu: cpu, load, byteOrder: row.byteOrder) { file in
                try file.object?.populateProgramArrays(for: engine)
                return (file.linked, try engine.prepare(file.linked.program, configuration: file.linked.engineConfiguration()))
            }))
        }
        return all
    }

    /// `observations`, every engine against the interpreter (which must run
    /// some packet to the end): the differences, and the interpreter's observation.
    public static func compare(_ row: BackendRow, source: String, cpu: String, _ load: Load = Load(),
                               name: String) throws -> (failures: [String], reference: Observed) {
        let all = try observations(row, source: source, cpu: cpu, load)
        let reference = all[0].observed
        var failures: [String] = []
        if !reference.runs.contains(where: { !$0.hasPrefix("error") }) {
            failures.append("\(name) -mcpu=\(cpu): the interpreter ran nothing to the end")
        }
        for (engine, observed) in all.dropFirst() where observed != reference {
            failures.append("\(name) -mcpu=\(cpu) on \(engine): \(observed.difference(from: reference))")
        }
        return (failures, reference)
    }

    /// One example, every cpu version it builds for: the interpreter, the
    /// facade's engine for the row's architecture, and each configuration.
    static func check(_ row: BackendRow, _ example: (name: String, cpus: [String])) throws -> BackendCheckReport {
        let source = examplesDirectory.appendingPathComponent("\(example.name).c").path
        var failures: [String] = []
        for cpu in example.cpus {
            failures += try compare(row, source: source, cpu: cpu, name: example.name).failures
        }
        return BackendCheckReport(summary: "example \(example.name) on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// `examples/fnv1a.s` over `hello.txt` through the facade and on every configuration.
    static func fnv1a(_ row: BackendRow) throws -> BackendCheckReport {
        let path = examplesDirectory.appendingPathComponent("fnv1a.s").path
        let input = Array(try Data(contentsOf: examplesDirectory.appendingPathComponent("hello.txt")))
        var request = LoadRequest()
        request.byteOrder = row.byteOrder == .big ? .big : nil
        let file = try ProgramFile.load(path: path, request)
        let interpreter = try LoadedProgram(file.linked, engine: .interpreter, byteOrder: row.byteOrder).run(input: input)
        var failures: [String] = []
        if let architecture = row.architecture {
            let jit = try LoadedProgram(file.linked, engine: .jit, architecture: architecture).run(input: input)
            if jit.returnValue != interpreter.returnValue || jit.output != interpreter.output {
                failures.append("--arch \(architecture): r0 \(jit.returnValue), interpreter \(interpreter.returnValue)")
            }
        }
        for (label, engine) in row.configurations {
            let got = BackendMatrix.outcome(file.linked.program, memory: input, on: engine, helpers: file.linked.helpers)
            if got != .value(interpreter.returnValue) { failures.append("\(label): \(got), interpreter 0x\(String(interpreter.returnValue, radix: 16))") }
        }
        return BackendCheckReport(summary: "fnv1a.s on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// `examples/tail_call_pipeline.c` through the facade against the model
    /// the kernel agrees with (`TailCallPipeline`, little-endian packets),
    /// and every program of the object on each configuration against the
    /// interpreter.
    static func pipeline(_ row: BackendRow) throws -> BackendCheckReport {
        let source = examplesDirectory.appendingPathComponent("tail_call_pipeline.c").path
        var failures: [String] = []
        for cpu in ["v3", "v4"] {
            var request = LoadRequest(programName: "pipeline", cpu: cpu, trace: { _ in })
            request.byteOrder = row.byteOrder == .big ? .big : nil
            let file = try ProgramFile.load(path: source, request)
            guard let object = file.object else { return BackendCheckReport(summary: "", failures: ["the pipeline loaded without its object"]) }
            defer { object.programArrays.forEach { $0.removeAll() } }
            if let architecture = row.architecture, row.byteOrder == .little {
                let loaded = try LoadedProgram(file, engine: .jit, architecture: architecture)
                for (i, packet) in TailCallPipeline.packets.enumerated() {
                    let result = try loaded.run(input: packet)
                    let expected = TailCallPipeline.expectation(packet)
                    if result.returnValue != expected.0 || result.output != expected.1 {
                        failures.append("-mcpu=\(cpu) packet \(i): r0 \(result.returnValue), the model \(expected.0)")
                    }
                }
            }
            // Each configuration loads the object afresh: a slot holds one
            // preparation per engine kind, so two configurations of one
            // backend must not share its program arrays.
            let interpreter = row.reference
            for (label, engine) in row.configurations {
                let file = try ProgramFile.load(path: source, request)
                guard let object = file.object else { return BackendCheckReport(summary: "", failures: ["the pipeline loaded without its object"]) }
                defer { object.programArrays.forEach { $0.removeAll() } }
                // Slots hold a preparation for each engine (the JIT's, then the interpreter's).
                try object.populateProgramArrays(for: engine)
                try object.populateProgramArrays(for: interpreter)
                for name in object.object.programs.map(\.name) {
                    let linked = try object.program(named: name)
                    let jit = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
                    let reference = try interpreter.prepare(linked.program, configuration: linked.engineConfiguration())
                    for (i, packet) in TailCallPipeline.packets.enumerated() {
                        let run1 = try linked.makeRun(input: packet, byteOrder: row.byteOrder)
                        let run2 = try linked.makeRun(input: packet, byteOrder: row.byteOrder)
                        let a = Result { try jit.run(run1.input) }.map { "\($0)" }, b = Result { try reference.run(run2.input) }.map { "\($0)" }
                        if "\(a)" != "\(b)" || run1.output() != run2.output() {
                            failures.append("\(name) -mcpu=\(cpu) packet \(i) on \(label): \(a), interpreter \(b)")
                        }
                    }
                }
            }
        }
        return BackendCheckReport(summary: "tail-call pipeline on \(row.name): \(failures.count) failures", failures: failures)
    }
}
