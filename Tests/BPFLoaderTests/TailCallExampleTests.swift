import BPFHelpers
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// `examples/tail_call_pipeline.c`: stages chained through a statically
/// initialised program array, tail calls from subprograms, a stage that
/// runs into the limit and calls that fall through on empty slots, on every
/// engine against a model written here, and against the kernel where
/// `bpf()` is permitted.
@Suite(.enabled(if: Clang.available, "clang, <linux/bpf.h> and <bpf/bpf_helpers.h> are needed to build the examples"),
       .serialized)
struct TailCallExampleTests {
    static let source = examplesDirectory.appendingPathComponent("tail_call_pipeline.c")

    /// Packets for every path: IPv4 (and a TTL that runs out), ARP (an empty
    /// slot), 0x88b5 (the limit), and other EtherTypes whose first payload byte
    /// names the slot the subprogram tail-calls (each slot, and out of range).
    static let packets: [[UInt8]] = {
        var all = KernelDifferentialTests.packets
        all.append(Packets.ipv4(protocol: 17, ttl: 1, payload: Packets.bytes(12)))
        all.append(Packets.ethernet(0x0806, payload: Packets.bytes(28)))
        all.append(Packets.ethernet(0x88b5, payload: Packets.bytes(20)))
        for slot in [0, 1, 2, 3, 4, 5, 6, 7, 8, 200] as [UInt8] {
            all.append(Packets.ethernet(0x1234, payload: [slot] + Packets.bytes(40, seed: slot)))
        }
        all.append(Packets.ethernet(0x1234, payload: []))
        return all
    }()

    /// What `pipeline` does to a packet, written again from the C source:
    /// the verdict and the packet afterwards. 33 tail calls per run; calls to
    /// empty slots do not count.
    static func expectation(_ packet: [UInt8]) -> (UInt64, [UInt8]) {
        var out = packet
        var calls = 1                                   // pipeline -> parse
        out[11] = 1
        func ipv4() -> UInt64 {
            guard out.count >= 34 else { return 1 }
            out[11] &+= 1
            guard out[22] > 1 else { return 1 }
            out[22] -= 1
            calls += 1                                  // -> finish, from a subprogram
            out[11] &+= 1
            out[8] = 0xf1
            out[10] = 0x13                              // 0x10 + XDP_TX, back in ipv4
            return 3
        }
        func parse() -> UInt64 {
            switch (out[12], out[13]) {
            case (0x08, 0x00):
                calls += 1
                return ipv4()
            case (0x08, 0x06):
                return 2                                // empty slot: XDP_PASS
            case (0x88, 0xb5):
                let runs = 33 - calls                   // ten calls to the empty slot count nothing
                out[11] &+= UInt8(runs)
                return 2
            default:
                guard out.count >= 15 else { return 1 }
                let slot = out[14]
                func fallThrough() -> UInt64 { slot < 8 ? 0 : 2 }
                switch slot {
                case 0:                                 // parse again, from the subprogram, until the limit
                    guard calls < 33 else { return fallThrough() }
                    calls += 1
                    out[11] &+= 1
                    return parse()
                case 1:
                    calls += 1
                    return ipv4()
                case 3:
                    calls += 1
                    out[11] &+= 1
                    out[8] = 0xf1
                    return 3
                case 4:
                    out[11] &+= UInt8(33 - calls)
                    return 2
                case 5:                                 // loop_sub: each run's subprogram returns once
                    let runs = 33 - calls
                    out[11] &+= UInt8(runs)
                    out[9] &+= UInt8(runs)
                    return out[11] > 40 ? 1 : 2
                default:
                    return fallThrough()
                }
            }
        }
        return (parse(), out)
    }

    /// Loads the object for `engine` with its program arrays filled, as libbpf would.
    func load(_ bytes: [UInt8], on engine: any ExecutionEngine, object: LoadedObject? = nil) throws -> LoadedObject {
        let object = try object ?? LoadedObject(bytes: bytes, options: LoadOptions(trace: { _ in }))
        try object.populateProgramArrays(for: engine)
        return object
    }

    @Test(arguments: ["v3", "v4"])
    func pipelineOnEveryEngine(cpu: String) throws {
        let bytes = try Clang.object(Self.source, cpu: cpu)
        for engine in engines {
            let object = try load(bytes, on: engine)
            defer { object.programArrays.forEach { $0.removeAll() } }
            let stages = try #require(object.map(named: "stages") as? ProgramArray)
            #expect(stages.keys().count == 5, "PARSE, IPV4, FINISH, LOOP, LOOP_SUB filled at load; ARP empty")
            let pipeline = try object.program(named: "pipeline")
            for (i, packet) in Self.packets.enumerated() {
                let expected = Self.expectation(packet)
                let (value, output) = try run(pipeline, on: engine, input: packet)
                #expect(value == expected.0, "\(engine.name) packet \(i): verdict")
                #expect(output == expected.1, "\(engine.name) packet \(i): packet")
            }
        }
    }

    /// One object serves both engines at once: each slot keeps a preparation per engine.
    @Test func oneObjectOnSeveralEngines() throws {
        guard engines.count > 1 else { return }
        let bytes = try Clang.object(Self.source)
        let object = try LoadedObject(bytes: bytes, options: LoadOptions(trace: { _ in }))
        defer { object.programArrays.forEach { $0.removeAll() } }
        for engine in engines { _ = try load(bytes, on: engine, object: object) }
        let stages = try #require(object.map(named: "stages") as? ProgramArray)
        #expect(stages.entry(at: 0).target?.engines.count == engines.count)
        let pipeline = try object.program(named: "pipeline")
        for packet in Self.packets {
            let expected = Self.expectation(packet)
            for engine in engines {
                #expect(try run(pipeline, on: engine, input: packet) == expected, "\(engine.name)")
            }
        }
    }

    /// Every program of the object on every packet, in the kernel and in
    /// BPFKit: verdicts, packets and the visits map must agree.
    @Test(.enabled(if: KernelObject.availability.available, "kernel comparison skipped: \(KernelObject.availability.reason)"),
          arguments: ["v3", "v4"])
    func sameResultsAsTheKernel(cpu: String) throws {
        let path = try Clang.compile(Self.source, cpu: cpu)
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        var expected: [(program: String, packet: Int, value: UInt64, output: [UInt8])] = []
        for program in kernel.programs {
            for (i, packet) in Self.packets.enumerated() {
                let (value, output) = try kernel.run(program, input: packet)
                expected.append((program, i, value, output))
            }
        }
        let visits = try kernel.dump(map: "visits")
        #expect(Set(kernel.programs) == ["pipeline", "parse", "ipv4", "finish", "loop", "loop_sub"])
        // The model agrees with the kernel on the entry program.
        for run in expected where run.program == "pipeline" {
            #expect(Self.expectation(Self.packets[run.packet]) == (run.value, run.output), "model vs kernel, packet \(run.packet)")
        }
        print("kernel tail_call_pipeline -mcpu=\(cpu): \(expected.count) runs, verdicts \(Set(expected.map(\.value)).sorted()), visits \(visits.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { $0.value.le64(at: 0) })")

        let bytes = try [UInt8](Data(contentsOf: path))
        for engine in engines {
            let object = try load(bytes, on: engine)
            defer { object.programArrays.forEach { $0.removeAll() } }
            for run in expected {
                let program = try object.program(named: run.program)
                let (value, output) = try BPFLoaderTests.run(program, on: engine, input: Self.packets[run.packet])
                #expect(value == run.value, "\(run.program) packet \(run.packet) on \(engine.name): verdict")
                #expect(output == run.output, "\(run.program) packet \(run.packet) on \(engine.name): packet")
            }
            let ours = Dictionary(uniqueKeysWithValues: try #require(object.map(named: "visits")).entries().map { ($0.key, $0.value) })
            #expect(ours == visits, "visits on \(engine.name)")
        }
    }
}
