import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// Indirect tail calls on the RISC-V 64 JIT under the emulator: the shared
/// corpus (`TailCallCases`: chains, the 33 limit, empty slots, calls from
/// subprograms, errors in targets).
@Suite struct TailCallTests {
    final class Fixture: Sendable {
        let engine: any ExecutionEngine
        let array: ProgramArray

        init(_ engine: any ExecutionEngine, maxEntries: Int = 8) throws {
            self.engine = engine
            array = try #require(try makeMap(MapDefinition(name: "jmp_table", type: .programArray, keySize: 4, valueSize: 4,
                                                          maxEntries: maxEntries)) as? ProgramArray)
        }

        deinit { array.removeAll() }

        func link(_ program: Program) throws -> LinkedProgram {
            try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [array], options: LoadOptions(trace: { _ in }))
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

    @Test(arguments: TailCallCases.all)
    func corpus(_ test: TailCallCase) throws {
        let f = try Fixture(RV64JIT(), maxEntries: test.maxEntries)
        for (slot, program) in test.slots { try f.array.set(try f.target(program), at: slot) }
        let prepared = try f.prepare(test.main, limit: test.instructionLimit)
        let outcome = try test.outcome { try f.run(prepared, input: test.input) }
        #expect(outcome == test.expected)
    }

    /// The same corpus in compressed code far from the helpers.
    @Test(arguments: TailCallCases.all)
    func corpusCompressedFar(_ test: TailCallCase) throws {
        let f = try Fixture(RV64JIT(options: RV64Options(compressed: true), placement: .farFromHelpers), maxEntries: test.maxEntries)
        for (slot, program) in test.slots { try f.array.set(try f.target(program), at: slot) }
        let prepared = try f.prepare(test.main, limit: test.instructionLimit)
        let outcome = try test.outcome { try f.run(prepared, input: test.input) }
        #expect(outcome == test.expected)
    }
}
