import BPFHelpers
import BPFISA
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier

/// One program array and `mem` programs on an engine: what the tail-call
/// corpus runs on (the matrix's column, the backend test kit and a
/// backend's own tail-call tests).
public final class TailCallFixture: Sendable {
    public let engine: any ExecutionEngine
    public let array: ProgramArray
    /// Targets and callers are compiled with constant blinding.
    public let hardened: Bool
    /// The order of the engine's memory.
    public let byteOrder: ByteOrder

    public init(_ engine: any ExecutionEngine, maxEntries: Int = 8, hardened: Bool = false, byteOrder: ByteOrder = .little) throws {
        self.engine = engine
        self.hardened = hardened
        self.byteOrder = byteOrder
        guard let array = try makeMap(MapDefinition(name: "jmp_table", type: .programArray, keySize: 4, valueSize: 4,
                                                    maxEntries: maxEntries)) as? ProgramArray else {
            throw TailCallSetupError("a program-array definition made another kind of map")
        }
        self.array = array
    }

    deinit { array.removeAll() }

    /// `verified: false` links without the verifier (nothing proven, nothing refused).
    public func link(_ program: Program, verified: Bool = true) throws -> LinkedProgram {
        try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [array],
                          options: LoadOptions(trace: { _ in }, verifierLimits: verified ? VerifierLimits() : nil))
    }

    public func prepare(_ program: Program, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> any PreparedProgram {
        let linked = try link(program)
        return try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit, hardened: hardened))
    }

    public func target(_ program: Program) throws -> TailCallTarget {
        try TailCallTargets.make(try link(program), engine: engine, hardened: hardened)
    }

    public func run(_ prepared: any PreparedProgram, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
        let run = try ProgramTypes.mem.makeRun(input: input, maps: MapTable([array]).regions, byteOrder: byteOrder)
        return try withExtendedLifetime(run) { (try prepared.run(run.input), run.output()) }
    }

    /// A corpus case on an engine, plain or hardened: its slots filled, its
    /// main program run once over its input.
    public static func outcome(_ test: TailCallCase, on engine: any ExecutionEngine, hardened: Bool,
                               byteOrder: ByteOrder) throws -> TailCallCase.Outcome {
        let f = try TailCallFixture(engine, maxEntries: test.maxEntries, hardened: hardened, byteOrder: byteOrder)
        for (slot, program) in test.slots { try f.array.set(try f.target(program), at: slot) }
        let prepared = try f.prepare(test.main, limit: test.instructionLimit)
        return try test.outcome { try f.run(prepared, input: test.input) }
    }
}

/// The tail-call corpus (`TailCallCases`: chains, the 33 limit, empty
/// slots, calls from subprograms, errors in targets) as a column of the
/// matrix: each case on the configuration's engine, plain or hardened as
/// the configuration is, must come to the interpreter's outcome (of the
/// engine's byte order) and, in little-endian memory, to the kernel's
/// (`TailCallCase.expected`).
public enum TailCallColumn {
    public static func tally(_ configuration: ConformanceMatrix.Configuration, cases: [TailCallCase] = TailCallCases.all) -> ColumnTally {
        var tally = ColumnTally()
        let order = EngineCatalog.memoryOrder(configuration.engine, architecture: configuration.architecture)
        guard let engine = try? EngineCatalog.engine(configuration.engine, architecture: configuration.architecture,
                                                     byteOrder: configuration.engine == .interpreter ? order : nil),
              let reference = try? EngineCatalog.engine(.interpreter, byteOrder: order) else {
            tally.record("\(configuration)", passed: false, prepared: false, "no engine")
            return tally
        }
        for test in cases {
            func outcome(_ engine: any ExecutionEngine, hardened: Bool) -> (String, Bool) {
                do {
                    return ("\(try TailCallFixture.outcome(test, on: engine, hardened: hardened, byteOrder: order))", true)
                } catch {
                    return ("\(error)", false)
                }
            }
            let (got, prepared) = outcome(engine, hardened: configuration.hardened)
            let (interpreter, _) = outcome(reference, hardened: false)
            let kernel = "\(test.expected)"
            let agrees = got == interpreter && (order == .big || got == kernel)
            tally.record("tail call \(test.name)", passed: agrees, prepared: prepared,
                         "\(got), interpreter \(interpreter)" + (order == .little ? ", the kernel \(kernel)" : ""))
        }
        return tally
    }
}
