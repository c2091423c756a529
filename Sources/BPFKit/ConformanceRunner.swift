import Foundation
import BPFISA
import BPFRuntime
import BPFConformance

/// Runs conformance-corpus files (`.data`) on an engine and judges the outcome
/// the way the upstream bpf_conformance runner does.
public struct ConformanceRunner: Sendable {
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }

    public var engine: EngineKind
    public var architecture: Architecture?
    /// The byte order of BPF memory (nil: the engine's own). The corpus's
    /// expected values assume little-endian memory, so a JIT running
    /// big-endian (mips32be) is judged against the big-endian interpreter
    /// instead: the same value, or an error where it stops with one.
    public var byteOrder: ByteOrder?
    /// JITs compile with constant blinding (`EngineConfiguration.hardened`).
    public var hardened: Bool
    /// What the JIT's code may use beyond its base instruction set (RISC-V extensions).
    public var target = JITTargetOptions()

    public init(engine: EngineKind = .interpreter, architecture: Architecture? = nil, hardened: Bool = false) {
        self.engine = engine
        self.architecture = architecture
        self.hardened = hardened
    }

    /// The helpers the corpus calls. Helper 5 is the one `call_unwind_fail`
    /// and `callx` use (upstream runners register it as a pass-through of r1);
    /// its result is not what those tests check.
    public static let helpers = HelperRegistry([
        Helper(id: 5, name: "conformance_passthrough", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            call.argument(1)
        },
    ])

    /// Judges one file.
    public func run(path: String) -> Outcome { runReporting(path: path).outcome }

    /// Judges one file and says whether the engine prepared (for a JIT: compiled) its program.
    public func runReporting(path: String) -> (outcome: Outcome, prepared: Bool) {
        let file: ProgramFile
        do {
            file = try ProgramFile.load(path: path, LoadRequest(helpers: Self.helpers))
        } catch {
            return (judgeError(error.message, expected: expectation(of: path)), false)
        }
        guard let conformance = file.conformance else { return (.failed("not a conformance (.data) file"), false) }
        let loaded: LoadedProgram
        do {
            loaded = try LoadedProgram(file.linked, engine: engine, architecture: architecture, byteOrder: byteOrder, hardened: hardened,
                                       target: target)
        } catch let error as EngineSelectionError {
            return (.skipped(error.description), false)
        } catch {
            return (judgeError("\(error)", expected: conformance.expected), false)
        }
        let order = byteOrder ?? (engine == .jit ? (architecture ?? Architecture.host)?.byteOrder : nil)
        let expected: ConformanceFile.Expectation
        if engine == .jit, order == .big {
            do {
                let reference = try LoadedProgram(file.linked, engine: .interpreter, byteOrder: .big)
                expected = .result(try reference.run(input: conformance.memory).returnValue)
            } catch {
                expected = .error("the big-endian interpreter: \(error)")
            }
        } else {
            expected = conformance.expected
        }
        let result: UInt64
        do {
            result = try loaded.run(input: conformance.memory).returnValue
        } catch {
            return (judgeError("\(error)", expected: expected), true)
        }
        return (judge(result, expected: expected), true)
    }

    private func judge(_ result: UInt64, expected: ConformanceFile.Expectation) -> Outcome {
        switch expected {
        case .result(let expected):
            return expected == result ? .passed
                : .failed("returned 0x\(String(result, radix: 16)), expected 0x\(String(expected, radix: 16))")
        case .error(let message):
            return .failed("returned 0x\(String(result, radix: 16)), expected an error\(message.isEmpty ? "" : " (\(message))")")
        case .none:
            return .failed("file states no expected result or error")
        }
    }

    private func judgeError(_ message: String, expected: ConformanceFile.Expectation?) -> Outcome {
        if case .error = expected { return .passed }
        return .failed(message)
    }

    /// The expectation of a file that could not be loaded, if the file itself parses.
    private func expectation(of path: String) -> ConformanceFile.Expectation? {
        (try? ConformanceFile(path: path))?.expected
    }

    /// `.data` files under each path (files are taken as given, folders searched), sorted.
    public static func files(in paths: [String]) throws(LoadError) -> [String] {
        var result: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw LoadError(path: path, "no such file or directory")
            }
            if !isDirectory.boolValue { result.append(path); continue }
            let found = (FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? [])
                .filter { $0.hasSuffix(".data") }.sorted().map { (path as NSString).appendingPathComponent($0) }
            result += found
        }
        return result
    }
}
