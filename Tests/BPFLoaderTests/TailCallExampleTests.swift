import BPFHelpers
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// `examples/tail_call_pipeline.c`: stages chained through a statically
/// initialised program array, tail calls from subprograms, a stage that
/// runs into the limit and calls that fall through on empty slots, on every
/// engine against `TailCallPipeline`'s model, and against the kernel where
/// `bpf()` is permitted.
@Suite(.enabled(if: Clang.available, "clang, <linux/bpf.h> and <bpf/bpf_helpers.h> are needed to build the examples"),
       .serialized)
struct TailCallExampleTests {
    static let source = examplesDirectory.appendingPathComponent("tail_call_pipeline.c")

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
            for (i, packet) in TailCallPipeline.packets.enumerated() {
                let expected = TailCallPipeline.expectation(packet)
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
        for packet in TailCallPipeline.packets {
            let expected = TailCallPipeline.expectation(packet)
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
            for (i, packet) in TailCallPipeline.packets.enumerated() {
                let (value, output) = try kernel.run(program, input: packet)
                expected.append((program, i, value, output))
            }
        }
        let visits = try kernel.dump(map: "visits")
        #expect(Set(kernel.programs) == ["pipeline", "parse", "ipv4", "finish", "loop", "loop_sub"])
        // The model agrees with the kernel on the entry program.
        for run in expected where run.program == "pipeline" {
            #expect(TailCallPipeline.expectation(TailCallPipeline.packets[run.packet]) == (run.value, run.output), "model vs kernel, packet \(run.packet)")
        }
        print("kernel tail_call_pipeline -mcpu=\(cpu): \(expected.count) runs, verdicts \(Set(expected.map(\.value)).sorted()), visits \(visits.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { $0.value.le64(at: 0) })")

        let bytes = try [UInt8](Data(contentsOf: path))
        for engine in engines {
            let object = try load(bytes, on: engine)
            defer { object.programArrays.forEach { $0.removeAll() } }
            for run in expected {
                let program = try object.program(named: run.program)
                let (value, output) = try BPFLoaderTests.run(program, on: engine, input: TailCallPipeline.packets[run.packet])
                #expect(value == run.value, "\(run.program) packet \(run.packet) on \(engine.name): verdict")
                #expect(output == run.output, "\(run.program) packet \(run.packet) on \(engine.name): packet")
            }
            let ours = Dictionary(uniqueKeysWithValues: try #require(object.map(named: "visits")).entries().map { ($0.key, $0.value) })
            #expect(ours == visits, "visits on \(engine.name)")
        }
    }
}
