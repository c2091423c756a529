import BPFISA
import BPFRuntime

/// What one run came to, comparable across engines: r0, the error that
/// stopped it, or why the engine would not prepare the program.
public enum MatrixOutcome: Equatable, Sendable, CustomStringConvertible {
    case value(UInt64), failure(ExecutionError), notPrepared(String)

    public var description: String {
        switch self {
        case .value(let v): "0x" + String(v, radix: 16)
        case .failure(let e): "\(e)"
        case .notPrepared(let why): "not prepared: \(why)"
        }
    }

    /// One run of `program` on `engine` over a copy of `bytes` (r1 = their
    /// address, r2 = their length), `hardened` or not.
    public static func of(_ program: Program, memory bytes: [UInt8], on engine: any ExecutionEngine,
                          helpers: HelperRegistry = HelperRegistry(), limit: UInt64 = 100_000, hardened: Bool = false) -> MatrixOutcome {
        let memory = GuestMemory(bytes: bytes)
        var configuration = EngineConfiguration(helpers: helpers, instructionLimit: limit)
        configuration.hardened = hardened
        let prepared: any PreparedProgram
        do { prepared = try engine.prepare(program, configuration: configuration) } catch { return .notPrepared("\(error)") }
        defer { withExtendedLifetime(memory) {} }
        do throws(ExecutionError) {
            return .value(try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)]))))
        } catch {
            return .failure(error)
        }
    }
}

/// A column's count for one configuration of the matrix, added to the
/// configuration's `bpfkit conformance --matrix` line.
public struct ColumnTally: Sendable {
    public var passed = 0, failed = 0, prepared = 0, cases = 0
    /// The first failures, described.
    public var failures: [String] = []

    public init() {}

    mutating func record(_ name: String, passed ok: Bool, prepared wasPrepared: Bool, _ failure: @autoclosure () -> String) {
        cases += 1
        if wasPrepared { prepared += 1 }
        if ok {
            passed += 1
        } else {
            failed += 1
            if failures.count < 20 { failures.append("\(name): \(failure())") }
        }
    }
}
