import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFTestSuite
import BPFMaps
import BPFRuntime
import BPFVerifier
import Testing

/// The engines tail calls are tested on: the interpreter and the host's
/// native JIT (x86-64). arm64 is tested under the emulator, in BPFJITArm64Tests.
let engines: [any ExecutionEngine] = {
    var all: [any ExecutionEngine] = [Interpreter()]
    #if arch(x86_64)
    all.append(X86_64JIT())
    #endif
    return all
}()

/// Program arrays and programs of the `mem` type for one engine.
final class Fixture: Sendable {
    let engine: any ExecutionEngine
    let arrays: [ProgramArray]
    let type: any ProgramType
    /// JITs compile every program of the fixture with constant blinding.
    let hardened: Bool

    init(_ engine: any ExecutionEngine, maxEntries: [Int] = [8], type: any ProgramType = ProgramTypes.mem,
         hardened: Bool = false) throws {
        self.engine = engine
        self.type = type
        self.hardened = hardened
        arrays = try maxEntries.enumerated().map { k, n in
            try #require(try makeMap(MapDefinition(name: "jmp_table\(k)", type: .programArray, keySize: 4, valueSize: 4,
                                                   maxEntries: n)) as? ProgramArray)
        }
    }

    deinit { for array in arrays { array.removeAll() } }

    var array: ProgramArray { arrays[0] }

    /// `verified: false` links without the verifier (nothing proven, nothing refused).
    func link(_ program: Program, verified: Bool = true) throws -> LinkedProgram {
        try LinkedProgram(program: program, type: type, maps: arrays,
                          options: LoadOptions(trace: { _ in }, verifierLimits: verified ? VerifierLimits() : nil))
    }

    func prepare(_ program: Program, limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> any PreparedProgram {
        let linked = try link(program)
        return try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit, hardened: hardened))
    }

    func target(_ program: Program) throws -> TailCallTarget {
        try TailCallTargets.make(try link(program), engine: engine, hardened: hardened)
    }

    /// A target prepared without the loader's passes (which refuse what the
    /// engines must still stop on, such as kfunc calls).
    func unlinkedTarget(_ program: Program) throws -> TailCallTarget {
        let configuration = try link(returns(0)).engineConfiguration()
        let prepared = try engine.prepare(program, configuration: configuration)
        return TailCallTarget(name: program.name, programType: type.name, preparations: [try #require(prepared as? any TailCallable)])
    }

    func set(_ index: Int, _ program: Program, array k: Int = 0) throws {
        try arrays[k].set(try target(program), at: index)
    }

    /// Runs `prepared` over `input`; returns r0 and the input afterwards.
    func run(_ prepared: any PreparedProgram, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
        let run = try type.makeRun(input: input, maps: MapTable(arrays).regions)
        let r0 = try prepared.run(run.input)
        return (r0, run.output())
    }

    func run(_ program: Program, input: [UInt8] = Array(repeating: 0, count: 64)) throws -> (UInt64, [UInt8]) {
        try run(try prepare(program), input: input)
    }
}

/// `r0 = value; exit`.
func returns(_ value: Int32, _ name: String = "leaf") -> Program {
    Program([.mov(.r0, value), .exit], name: name)
}

func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}
