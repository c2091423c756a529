import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The generated suite and the conformance corpus on the arm32 JIT under
/// the emulator and on the interpreter: they must agree with each other and
/// with the expected value.
@Suite struct ParityTests {
    /// The arm32 row of the shared matrix: division by UDIV/SDIV and through runtime calls.
    static let row = BackendRow(name: "arm32", configurations: [("udiv", arm32()), ("calls", arm32(divide: false))],
                                architecture: .arm32)

    @Test(arguments: GeneratedSuite.categories().map(\.name))
    func generatedSuite(_ name: String) {
        let (cases, failures) = BackendMatrix.generatedSuite(Self.row, category: name)
        print("generated suite on arm32, \(name): \(cases) cases × \(Self.row.configurations.count) configurations, \(failures.count) failures")
        #expect(cases > 0)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10).joined(separator: "\n"))")
    }

    /// The corpus through the facade's runner (`--engine jit --arch arm32`),
    /// and each file's outcome against the interpreter's, error for error.
    @Test func conformanceCorpus() throws {
        let (files, failures) = try BackendMatrix.conformanceCorpus(Self.row)
        print("conformance corpus on arm32: \(files - failures.count)/\(files) passed")
        #expect(files > 100)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    }
}
