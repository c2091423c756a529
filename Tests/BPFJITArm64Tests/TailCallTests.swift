import BPFEmulator
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import BPFVerifier
import Testing

/// Indirect tail calls on the arm64 JIT under the emulator: the shared
/// corpus (`TailCallCases`), entries changed between runs and while other
/// threads run, and `examples/tail_call_pipeline.c` against its model.
@Suite struct TailCallTests {
    /// One program array and `mem` programs on an engine.
    final class Fixture: Sendable {
        let engine: any ExecutionEngine
        let array: ProgramArray

        init(_ engine: any ExecutionEngine, maxEntries: Int = 8) throws {
            self.engine = engine
            array = try #require(try makeMap(MapDefinition(name: "jmp_table", type: .programArray, keySize: 4, valueSize: 4,
                                                          maxEntries: maxEntries)) as? ProgramArray)
        }

        deinit { array.removeAll() }

        /// `verified: false` links without the verifier (nothing proven, nothing refused).
        func link(_ program: Program, verified: Bool = true) throws -> LinkedProgram {
            try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [array],
                              options: LoadOptions(trace: { _ in }, verifierLimits: verified ? VerifierLimits() : nil))
        }

        func prepare(_ program: Program, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> any PreparedProgram {
            let linked = try link(program)
            return try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit))
        }

        func target(_ program: Program) throws -> TailCallTarget {
            try TailCallTargets.make(try link(program), engine: engine)
        }

        func run(_ prepared: any PreparedProgram, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
            let run = try ProgramTypes.mem.makeRun(input: input, maps: MapTable([array]).regions)
            return (try prepared.run(run.input), run.output())
        }
    }

    struct Case: CustomStringConvertible, Sendable {
        let placement: BPFEmulator.ImagePlacement
        let test: TailCallCase
        var description: String { "\(test.name), \(placement == .nearHelpers ? "near" : "far from") the helpers" }
    }

    static let cases = [BPFEmulator.ImagePlacement.nearHelpers, .farFromHelpers].flatMap { placement in
        TailCallCases.all.map { Case(placement: placement, test: $0) }
    }

    @Test(arguments: cases)
    func corpus(_ c: Case) throws {
        let f = try Fixture(arm64(placement: c.placement), maxEntries: c.test.maxEntries)
        for (slot, program) in c.test.slots { try f.array.set(try f.target(program), at: slot) }
        let prepared = try f.prepare(c.test.main, limit: c.test.instructionLimit)
        let outcome = try c.test.outcome { try f.run(prepared, input: c.test.input) }
        #expect(outcome == c.test.expected)
    }

    /// Indirect sites only, and the entry a tail call reads changes between runs.
    @Test func entryChangedBetweenRuns() throws {
        let f = try Fixture(arm64())
        let caller = try f.prepare(TailCallCases.caller(slot: 1))
        if let program = caller as? Arm64EmulatedProgram {
            #expect(program.image.tailCallSites.isEmpty && program.image.statistics.indirectTailCalls == 1)
        }
        let a = try f.target(TailCallCases.returns(7, "a")), b = try f.target(TailCallCases.returns(8, "b"))
        for (entry, expected) in [(a, 7), (b, 8), (nil, 99), (a, 7)] as [(TailCallTarget?, UInt64)] {
            if let entry { try f.array.set(entry, at: 1) } else { try f.array.clear(at: 1) }
            #expect(try f.run(caller).0 == expected)
        }
    }

    /// Threads run while another rewrites the entries: every result is a valid configuration's.
    @Test func runsWhileEntriesAreRewritten() throws {
        let f = try Fixture(arm64())
        let chain = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 30); Instruction.exit }.program("chain")
        let a = try f.target(TailCallCases.returns(1, "a")), b = try f.target(TailCallCases.returns(2, "b"))
        let c = try f.target(chain)
        let caller = try f.prepare(TailCallCases.caller(slot: 0))
        let valid: Set<UInt64> = [99, 1, 2, 30]
        final class Box: @unchecked Sendable {
            let lock = NSLock(); var done = false; var seen: Set<UInt64> = []; var bad: [String] = []
        }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    box.lock.lock(); let done = box.done; box.lock.unlock()
                    if done { return }
                    let result: String
                    do {
                        let r0 = try f.run(caller).0
                        box.lock.lock(); box.seen.insert(r0); box.lock.unlock()
                        result = valid.contains(r0) ? "" : "returned \(r0)"
                    } catch {
                        result = "\(error)"
                    }
                    if !result.isEmpty { box.lock.lock(); box.bad.append(result); box.lock.unlock() }
                }
            }.start()
        }
        // At least 10,000 rewrites, and on until the runs have seen two
        // different outcomes (emulated runs are slow and, on a loaded
        // machine, the readers may barely run during the first 10,000);
        // at most 20 seconds.
        let deadline = Date().addingTimeInterval(20)
        var k = 0
        while k < 10_000 || (box.lock.withLock { box.seen.count } < 2 && Date() < deadline) {
            switch k % 5 {
            case 0: try f.array.set(a, at: 0)
            case 1: try f.array.set(c, at: 0)
            case 2: try f.array.set(b, at: 1)
            case 3: try f.array.clear(at: 0)
            default: try? f.array.clear(at: 1)
            }
            k += 1
        }
        box.lock.lock(); box.done = true; box.lock.unlock()
        group.wait()
        #expect(box.bad.isEmpty, "\(box.bad.prefix(5))")
        #expect(box.seen.count >= 2, "\(box.seen)")
    }

    /// The example on `--arch arm64` through the facade, against the model the kernel agrees with.
    @Test(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the example"))
    func pipelineExample() throws {
        let source = ExampleTests.examplesDirectory.appendingPathComponent("tail_call_pipeline.c").path
        for cpu in ["v3", "v4"] {
            let file = try ProgramFile.load(path: source, LoadRequest(programName: "pipeline", cpu: cpu, trace: { _ in }))
            let loaded = try LoadedProgram(file, engine: .jit, architecture: .arm64)
            let object = try #require(file.object)
            defer { object.programArrays.forEach { $0.removeAll() } }
            for (i, packet) in TailCallPipeline.packets.enumerated() {
                let result = try loaded.run(input: packet)
                let expected = TailCallPipeline.expectation(packet)
                #expect(result.returnValue == expected.0 && result.output == expected.1, "-mcpu=\(cpu) packet \(i)")
            }
            // Every program of the object, on the interpreter too (one object, both engines).
            let interpreter = try LoadedProgram(file, engine: .interpreter)
            _ = interpreter
            for name in object.object.programs.map(\.name) {
                let linked = try object.program(named: name)
                let jit = try loaded.engine.prepare(linked.program, configuration: linked.engineConfiguration())
                let reference = try Interpreter().prepare(linked.program, configuration: linked.engineConfiguration())
                for packet in TailCallPipeline.packets {
                    let run1 = try linked.makeRun(input: packet), run2 = try linked.makeRun(input: packet)
                    let a = try jit.run(run1.input), b = try reference.run(run2.input)
                    #expect(a == b && run1.output() == run2.output(), "\(name) -mcpu=\(cpu)")
                }
            }
        }
    }
}
