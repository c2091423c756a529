import BPFISA
import BPFKit
import BPFTestSuite
import Foundation

/// `bpfkit conformance --matrix --generated`: the generated suite (about
/// 20,000 programs whose expected values `BPFTestSuite.Reference` computes
/// from the RFC) on each configuration of the matrix, added to its line as
/// the kernel's test_bpf counts its tests. A little-endian engine must give
/// the expected value and agree with the interpreter; a big-endian one (the
/// expected values assume little-endian memory) must agree with the
/// big-endian interpreter.
enum GeneratedSuiteMatrix {
    struct Tally {
        var passed = 0, failed = 0, prepared = 0, cases = 0
        var failures: [String] = []
    }

    enum Outcome: Equatable, CustomStringConvertible {
        case value(UInt64), failure(String), notPrepared(String)
        var description: String {
            switch self {
            case .value(let v): "0x" + String(v, radix: 16)
            case .failure(let e): e
            case .notPrepared(let why): "not prepared: \(why)"
            }
        }
    }

    static func outcome(_ program: Program, memory bytes: [UInt8], on engine: any ExecutionEngine, hardened: Bool) -> Outcome {
        let memory = GuestMemory(bytes: bytes)
        var configuration = EngineConfiguration(instructionLimit: 10_000)
        configuration.hardened = hardened
        let prepared: any PreparedProgram
        do { prepared = try engine.prepare(program, configuration: configuration) } catch { return .notPrepared("\(error)") }
        do {
            return .value(try withExtendedLifetime(memory) {
                try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
            })
        } catch {
            return .failure("\(error)")
        }
    }

    static func tally(_ configuration: ConformanceMatrix.Configuration) -> Tally {
        var tally = Tally()
        let order = EngineCatalog.memoryOrder(configuration.engine, architecture: configuration.architecture)
        guard let engine = try? EngineCatalog.engine(configuration.engine, architecture: configuration.architecture,
                                                     byteOrder: configuration.engine == .interpreter ? order : nil),
              let reference = try? EngineCatalog.engine(.interpreter, byteOrder: order) else {
            tally.failures.append("no engine for \(configuration)")
            tally.failed = 1
            return tally
        }
        for category in GeneratedSuite.categories() {
            for testCase in category.cases {
                tally.cases += 1
                let got = outcome(testCase.program, memory: testCase.memory, on: engine, hardened: configuration.hardened)
                if case .notPrepared = got {} else { tally.prepared += 1 }
                let expected: Outcome = order == .little ? .value(testCase.expected)
                    : outcome(testCase.program, memory: testCase.memory, on: reference, hardened: false)
                if got == expected {
                    tally.passed += 1
                } else {
                    tally.failed += 1
                    if tally.failures.count < 20 { tally.failures.append("\(testCase.name): \(got), expected \(expected)") }
                }
            }
        }
        return tally
    }

    /// Each configuration's tally, `jobs` at a time, in order.
    static func run(_ configurations: [ConformanceMatrix.Configuration], jobs: Int) -> [Tally] {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var tallies: [Tally]
            init(_ count: Int) { tallies = Array(repeating: Tally(), count: count) }
        }
        let results = Results(configurations.count)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = max(1, jobs)
        for (index, configuration) in configurations.enumerated() {
            queue.addOperation {
                let tally = tally(configuration)
                results.lock.withLock { results.tallies[index] = tally }
            }
        }
        queue.waitUntilAllOperationsAreFinished()
        return results.lock.withLock { results.tallies }
    }
}
