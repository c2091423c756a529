import BPFISA
import BPFKit
import BPFRuntime
import BPFTestSuite

/// The generated suite (about 20,000 programs whose expected values
/// `BPFTestSuite.Reference` computes from the RFC) as a column of the
/// matrix, counted as the kernel's test_bpf counts its tests. A
/// little-endian engine must give the expected value (and so agree with
/// the interpreter); a big-endian one (the expected values assume
/// little-endian memory) must agree with the big-endian interpreter.
public enum GeneratedSuiteColumn {
    public static func tally(_ configuration: ConformanceMatrix.Configuration,
                             categories: [(name: String, cases: [GeneratedCase])] = GeneratedSuite.categories()) -> ColumnTally {
        var tally = ColumnTally()
        let order = EngineCatalog.memoryOrder(configuration.engine, architecture: configuration.architecture)
        guard let engine = try? EngineCatalog.engine(configuration.engine, architecture: configuration.architecture,
                                                     byteOrder: configuration.engine == .interpreter ? order : nil),
              let reference = try? EngineCatalog.engine(.interpreter, byteOrder: order) else {
            tally.record("\(configuration)", passed: false, prepared: false, "no engine")
            return tally
        }
        for category in categories {
            for testCase in category.cases {
                let got = MatrixOutcome.of(testCase.program, memory: testCase.memory, on: engine, limit: 10_000,
                                           hardened: configuration.hardened)
                let expected: MatrixOutcome = order == .little ? .value(testCase.expected)
                    : MatrixOutcome.of(testCase.program, memory: testCase.memory, on: reference, limit: 10_000)
                var prepared = true
                if case .notPrepared = got { prepared = false }
                tally.record(testCase.name, passed: got == expected, prepared: prepared, "\(got), expected \(expected)")
            }
        }
        return tally
    }
}
