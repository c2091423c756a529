import Foundation

/// Compiles C to a BPF object with clang, as `clang -O2 -g -target bpf -c` does.
///
/// The clang that ships with the Swift toolchain targets BPF, so no
/// configuration is needed: it is found beside `swift` on `PATH`, then in
/// /opt/swift, then as `clang` on `PATH`. `--clang PATH` overrides it.
public struct CCompiler: Sendable {
    public let clang: String

    public init(path: String? = nil) throws(LoadError) {
        if let path {
            guard FileManager.default.isExecutableFile(atPath: path) else { throw LoadError(path: path, "clang not found or not executable") }
            clang = path
            return
        }
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        var candidates: [String] = []
        for dir in search where FileManager.default.isExecutableFile(atPath: dir + "/swift") {
            let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/swift")).map {
                $0.hasPrefix("/") ? ($0 as NSString).deletingLastPathComponent : dir
            } ?? dir
            candidates.append(real + "/clang")
        }
        candidates.append("/opt/swift/usr/bin/clang")
        candidates += search.map { $0 + "/clang" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw LoadError("no clang found to compile C to BPF (the Swift toolchain's clang, or give --clang PATH)")
        }
        clang = found
    }

    /// Compiles `source` and returns the object's bytes; clang's diagnostics become the error.
    public func compile(_ source: String, cpu: String = "v3") throws(LoadError) -> [UInt8] {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-\(getpid())-\(UUID().uuidString).o").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: clang)
        process.arguments = ["-O2", "-g", "-target", "bpf", "-mcpu=\(cpu)"] + Self.includeFlags + ["-c", source, "-o", output]
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { throw LoadError(path: clang, "cannot run: \(error.localizedDescription)") }
        let diagnostics = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LoadError(path: source, "clang failed:\n\(diagnostics.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        do { return Array(try Data(contentsOf: URL(fileURLWithPath: output))) } catch {
            throw LoadError(path: output, "cannot read clang's output: \(error.localizedDescription)")
        }
    }

    /// `<linux/bpf.h>` includes `<asm/types.h>`, which Debian keeps under the
    /// host's multiarch folder; a BPF target does not look there by itself.
    static let includeFlags: [String] = {
        let base = "/usr/include"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return entries.filter { FileManager.default.fileExists(atPath: "\(base)/\($0)/asm/types.h") }.map { "-I\(base)/\($0)" }
    }()
}
