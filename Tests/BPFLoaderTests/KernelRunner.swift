import Foundation
import BPFKit

/// Loads objects into the running kernel with `bpftool` and runs their
/// programs with `BPF_PROG_TEST_RUN` (`bpftool prog run`), for the
/// differential tests. Everything it pins lives under one directory of the
/// process's own bpffs (`PrivateBPFFilesystem`, never the shared
/// /sys/fs/bpf) that `close()` removes.
final class KernelObject {
    static let bpftool: String? = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether `bpf()` may be used here, and if not, why (for the skip message).
    static let availability: (available: Bool, reason: String) = {
        guard bpftool != nil else { return (false, "bpftool is not installed") }
        guard geteuid() == 0 else { return (false, "bpf() needs root (CAP_BPF); not running as root") }
        if case .failure(let failure) = PrivateBPFFilesystem.mountPoint { return (false, failure.description) }
        guard let probe = try? KernelObject.probe() else { return (false, "the kernel refused to load a trivial XDP program (EPERM?)") }
        return (probe, probe ? "" : "the kernel refused to load a trivial XDP program")
    }()

    private static func probe() throws -> Bool {
        guard Clang.available else { return false }
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-probe-\(getpid()).c")
        try "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC(\"xdp\") int probe(struct xdp_md *c) { return XDP_PASS; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
            .write(to: source, atomically: true, encoding: .utf8)
        let object = try KernelObject(path: Clang.compile(source))
        defer { object.close() }
        return try object.run("probe", input: Array(repeating: 0, count: 14)).0 == 2
    }

    private static let counter = Counter()
    private final class Counter: @unchecked Sendable {
        let lock = NSLock(); var next = 0
        func take() -> Int { lock.lock(); defer { lock.unlock() }; next += 1; return next }
    }

    let directory: String
    let mapDirectory: String

    /// Loads every program of the object as `type` (bpftool's name: xdp, tc).
    init(path: URL, type: String = "xdp") throws {
        let base = "\(try PrivateBPFFilesystem.mountPoint.get())/object-\(Self.counter.take())"
        directory = base + "-progs"
        mapDirectory = base + "-maps"
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: mapDirectory)
        try FileManager.default.createDirectory(atPath: mapDirectory, withIntermediateDirectories: true)
        let (status, _, errors) = try runProcess(Self.bpftool!, ["prog", "loadall", path.path, directory, "type", type, "pinmaps", mapDirectory])
        guard status == 0 else {
            close()
            // "program of this type cannot use helper bpf_xdp_adjust_meta#54": the
            // kernel's own configuration, not the program, keeps it from loading.
            let unavailable = errors.range(of: "program of this type cannot use helper ").map { found in
                String(errors[found.upperBound...].prefix { !$0.isWhitespace })
            }
            throw KernelError(message: "bpftool prog loadall \(path.lastPathComponent) failed: \(errors.suffix(2000))",
                              unavailableHelper: unavailable)
        }
    }

    /// Removes every pinned program and map.
    func close() {
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: mapDirectory)
    }

    var programs: [String] { (try? FileManager.default.contentsOfDirectory(atPath: directory).sorted()) ?? [] }
    var pinnedMaps: [String] { (try? FileManager.default.contentsOfDirectory(atPath: mapDirectory).sorted()) ?? [] }

    /// One test run: the return value and the packet afterwards.
    func run(_ program: String, input: [UInt8]) throws -> (UInt64, [UInt8]) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-run-\(getpid())-\(Self.counter.take())")
        let inFile = scratch.appendingPathExtension("in"), outFile = scratch.appendingPathExtension("out")
        try Data(input).write(to: inFile)
        defer { try? FileManager.default.removeItem(at: inFile); try? FileManager.default.removeItem(at: outFile) }
        let (status, output, errors) = try runProcess(Self.bpftool!, [
            "prog", "run", "pinned", "\(directory)/\(program)", "data_in", inFile.path, "data_out", outFile.path,
            "data_size_out", "8192", "repeat", "1",
        ])
        guard status == 0, let range = output.range(of: "Return value: ") else {
            throw KernelError(message: "bpftool prog run \(program) failed: \(output) \(errors)")
        }
        let digits = output[range.upperBound...].prefix { $0.isNumber }
        return (UInt64(digits) ?? .max, try [UInt8](Data(contentsOf: outFile)))
    }

    /// One test run with a context: the return value, the packet and the
    /// context afterwards (`ctx_in` / `ctx_out`).
    func run(_ program: String, input: [UInt8], context: [UInt8]) throws -> (UInt64, [UInt8], [UInt8]) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-run-\(getpid())-\(Self.counter.take())")
        let inFile = scratch.appendingPathExtension("in"), outFile = scratch.appendingPathExtension("out")
        let contextIn = scratch.appendingPathExtension("ctxin"), contextOut = scratch.appendingPathExtension("ctxout")
        try Data(input).write(to: inFile)
        try Data(context).write(to: contextIn)
        defer {
            for file in [inFile, outFile, contextIn, contextOut] { try? FileManager.default.removeItem(at: file) }
        }
        let (status, output, errors) = try runProcess(Self.bpftool!, [
            "prog", "run", "pinned", "\(directory)/\(program)", "data_in", inFile.path, "data_out", outFile.path,
            "data_size_out", "32768", "ctx_in", contextIn.path, "ctx_out", contextOut.path, "ctx_size_out", "\(context.count)",
            "repeat", "1",
        ])
        guard status == 0, let range = output.range(of: "Return value: ") else {
            throw KernelError(message: "bpftool prog run \(program) failed: \(output) \(errors)")
        }
        let digits = output[range.upperBound...].prefix { $0.isNumber }
        return (UInt64(digits) ?? .max, try [UInt8](Data(contentsOf: outFile)), try [UInt8](Data(contentsOf: contextOut)))
    }

    /// A pinned map's contents as key -> value bytes (non-per-CPU maps).
    func dump(map name: String) throws -> [[UInt8]: [UInt8]] {
        let (status, output, errors) = try runProcess(Self.bpftool!, ["-j", "map", "dump", "pinned", "\(mapDirectory)/\(name)"])
        guard status == 0, let entries = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else {
            throw KernelError(message: "bpftool map dump \(name) failed: \(errors)")
        }
        func bytes(_ value: Any?) -> [UInt8] { ((value as? [String]) ?? []).compactMap { UInt8($0.dropFirst(2), radix: 16) } }
        var out: [[UInt8]: [UInt8]] = [:]
        for entry in entries { out[bytes(entry["key"])] = bytes(entry["value"]) }
        return out
    }
}

struct KernelError: Error, CustomStringConvertible {
    let message: String
    /// The helper the kernel said the program type cannot use, when that is why a load failed.
    var unavailableHelper: String? = nil
    var description: String { message }
}
