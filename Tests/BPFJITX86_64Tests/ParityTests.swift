import BPFBackendTestKit
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

    static func outcome(_ program: Program, memory bytes: [UInt8], on engine: some ExecutionEngine,
                        helpers: HelperRegistry = HelperRegistry()) -> Outcome {
        BPFBackendTestKit.outcome(program, memory: bytes, on: engine, helpers: helpers, limit: 10_000)
    }

    static var corpusDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/tests").path
    }
}
