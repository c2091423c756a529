import BPFInterpreter
import BPFKit
import BPFLoader
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// Every engine the examples run on: the interpreter, and the host's JIT once
/// the facade's catalog has one (it lists every backend in one place).
let engines: [any ExecutionEngine] = [Interpreter()] + [try? EngineCatalog.engine(.jit)].compactMap { $0 }

/// The repository's `examples/` directory.
let examplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")
/// C programs used only by tests.
let testProgramsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/bpf-programs")

/// Compiles C sources with clang for BPF, as users do (`-O2 -g -target bpf`), once per source and options.
enum Clang {
    static let path: String? = {
        var candidates = ["/opt/swift/usr/bin/clang"]
        if let env = ProcessInfo.processInfo.environment["CLANG"] { candidates.insert(env, at: 0) }
        candidates += ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/clang" } ?? []
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// `<linux/bpf.h>` includes `<asm/types.h>`, which Debian keeps under the multiarch directory.
    static let includes: [String] = {
        let base = "/usr/include"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return entries.filter { FileManager.default.fileExists(atPath: "\(base)/\($0)/asm/types.h") }.map { "-I\(base)/\($0)" }
    }()

    static let available = path != nil && FileManager.default.fileExists(atPath: "/usr/include/linux/bpf.h")
        && FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")

    private static let cache = Cache()
    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var objects: [String: URL] = [:]
    }

    /// Compiles `source` and returns the object's path.
    static func compile(_ source: URL, cpu: String = "v3", target: String = "bpf", extra: [String] = []) throws -> URL {
        let key = "\(source.path)|\(cpu)|\(target)|\(extra)"
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let done = cache.objects[key] { return done }
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-tests-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let object = output.appendingPathComponent("\(source.deletingPathExtension().lastPathComponent).\(target).\(cpu).\(cache.objects.count).o")
        let arguments = ["-O2", "-g", "-target", target, "-mcpu=\(cpu)"]
            + CCompiler.byteOrderIncludes(target == "bpfeb" ? .big : nil) + includes + extra + ["-c", source.path, "-o", object.path]
        let (status, _, errors) = try runProcess(path!, arguments)
        guard status == 0 else { throw CompileError(message: "clang \(arguments.joined(separator: " ")) failed:\n\(errors)") }
        cache.objects[key] = object
        return object
    }

    static func object(_ source: URL, cpu: String = "v3", target: String = "bpf") throws -> [UInt8] {
        try [UInt8](Data(contentsOf: compile(source, cpu: cpu, target: target)))
    }
}

struct CompileError: Error, CustomStringConvertible { let message: String; var description: String { message } }

/// Runs a process to completion; returns status, standard output and standard error.
func runProcess(_ path: String, _ arguments: [String]) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// One run of a loaded program on an engine: the return value and the output bytes.
func run(_ program: LinkedProgram, on engine: any ExecutionEngine, input: [UInt8]) throws -> (UInt64, [UInt8]) {
    let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
    let run = try program.makeRun(input: input)
    let value = try prepared.run(run.input)
    return (value, run.output())
}

/// Packet builders (shared with the other engines' tests).
typealias Packets = TestPackets

extension Array where Element == UInt8 {
    func le64(at offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[offset + $1]) << (8 * UInt64($1)) } }
    func le32(at offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[offset + $1]) << (8 * UInt32($1)) } }
}

func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// A thread-safe list, for trace messages and results gathered from several threads.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var _items: [String] = []
    func append(_ item: String) { lock.lock(); _items.append(item); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return _items }
}

extension Clang {
    /// Compiles C source text (written to a temporary file named `name.c`).
    static func object(source: String, name: String, cpu: String = "v3", target: String = "bpf", debugInfo: Bool = true) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-sources-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("\(name).c")
        try ("#include \"\(examplesDirectory.path)/common.h\"\n" + source).write(to: file, atomically: true, encoding: .utf8)
        if debugInfo { return try object(file, cpu: cpu, target: target) }
        let out = directory.appendingPathComponent("\(name).nodebug.o")
        let (status, _, errors) = try runProcess(path!, ["-O2", "-target", target, "-mcpu=\(cpu)"] + includes + ["-c", file.path, "-o", out.path])
        guard status == 0 else { throw CompileError(message: errors) }
        return try [UInt8](Data(contentsOf: out))
    }
}
