import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// What the x86-64 tests compare runs with. (The generated suite and the
/// conformance corpus run from the backend test kit's x86-64 row, on both
/// shift forms.)
enum ParityTests {
    /// The helpers the conformance corpus calls; the same registry for both engines.
    static let corpusHelpers = HelperRegistry([
        Helper(id: 5, name: "unwind", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            call.argument(1)
        },
    ])

    enum Outcome: Equatable, CustomStringConvertible {
        case value(UInt64), failure(ExecutionError), notPrepared(String)
        var description: String {
            switch self {
            case .value(let v): "0x" + String(v, radix: 16)
            case .failure(let e): "\(e)"
            case .notPrepared(let why): "not prepared: \(why)"
            }
        }
    }

    static func outcome(_ program: Program, memory bytes: [UInt8], on engine: some ExecutionEngine,
                        helpers: HelperRegistry = HelperRegistry()) -> Outcome {
        let memory = GuestMemory(bytes: bytes)
        let prepared: any PreparedProgram
        do {
            prepared = try engine.prepare(program, configuration: EngineConfiguration(helpers: helpers, instructionLimit: 10_000))
        } catch {
            return .notPrepared("\(error)")
        }
        do {
            return .value(try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count),
                                                    regions: MemoryRegions([memory.region(.input)]))))
        } catch {
            return .failure(error)
        }
    }

    static var corpusDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/tests").path
    }
}
