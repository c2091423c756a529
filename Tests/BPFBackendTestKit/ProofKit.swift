import BPFConformance
import BPFInterpreter
import BPFISA
import BPFKit
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation

/// A backend with a verifier's proofs (`TestProofs.full` of what each case's
/// single run does: every access safe, the run bounded, registers
/// initialised where `TestProofs.writesBeforeReads` says so): the image
/// keeps no memory check and no runaway guard, and results stay the
/// interpreter's.
public enum ProofKit {
    /// An engine with proofs added to whatever configuration it is given.
    struct Proven: ExecutionEngine {
        let base: any ExecutionEngine
        let proofs: ProgramProofs
        var name: String { base.name + "+proofs" }

        func prepare(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> any PreparedProgram {
            var configuration = configuration
            configuration.proofs = proofs
            return try base.prepare(program, configuration: configuration)
        }
    }

    /// The conformance corpus and every `sample`th case of each generated-suite category.
    static func corpus(_ row: BackendRow, sample: Int) throws -> BackendCheckReport {
        var programs: [(name: String, program: Program, memory: [UInt8], helpers: HelperRegistry)] = []
        for category in GeneratedSuite.categories() {
            for testCase in category.cases.enumerated().filter({ $0.offset % sample == 0 }).map(\.element) {
                programs.append((testCase.name, testCase.program, testCase.memory, HelperRegistry()))
            }
        }
        let directory = BackendMatrix.fixtures.appendingPathComponent("conformance/tests").path
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).filter({ $0.hasSuffix(".data") }).sorted() {
            let file = try ConformanceFile(path: directory + "/" + name)
            programs.append((name, try file.program(), file.memory, ConformanceRunner.helpers))
        }
        let limit: UInt64 = 10_000
        var proven = 0, initialized = 0, failures: [String] = []
        for (name, program, memory, helpers) in programs {
            let reference = BackendMatrix.outcome(program, memory: memory, on: row.reference, helpers: helpers, limit: limit)
            guard case .value = reference, (try? program.validate()) != nil else { continue }
            let registers = TestProofs.writesBeforeReads(program)
            let proofs = TestProofs.full(program, maxInstructions: limit, registersInitialized: registers)
            if let architecture = row.architecture {
                let configuration = EngineConfiguration(helpers: helpers, instructionLimit: limit, proofs: proofs)
                if let image = try? EngineCatalog.jitImage(program, architecture: architecture, configuration: configuration),
                   image.statistics.checkedAccesses != 0 || image.statistics.guardCharges != 0 {
                    failures.append("\(name): \(image.statistics.checkedAccesses) checks, \(image.statistics.guardCharges) guards with full proofs")
                }
            }
            for (label, engine) in row.configurations {
                let got = BackendMatrix.outcome(program, memory: memory, on: Proven(base: engine, proofs: proofs), helpers: helpers, limit: limit)
                if got != reference { failures.append("\(name) (\(label)): \(got), interpreter \(reference)") }
            }
            proven += 1
            if registers { initialized += 1 }
        }
        if proven <= 200 || initialized <= 50 { failures.append("too few programs ran proven: \(proven), \(initialized) with registers initialised") }
        return BackendCheckReport(summary: "corpus with proofs on \(row.name): \(proven) programs (\(initialized) with registers proven initialised), \(failures.count) failures",
                                  failures: failures)
    }
}
